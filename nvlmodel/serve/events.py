"""The kinds of event the simulation's loop handles (:mod:`nvlmodel.serve.engine`)."""

#: A request reaches the router; a worker's step ends; a transfer on a link ends; a closed-loop
#: client sends its next request.
_DISPATCH, _STEP, _LINK, _CLIENT = 0, 1, 2, 3
