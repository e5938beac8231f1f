"""The worker and its batcher in the simulation: continuous batching of decode steps with chunked
prefill up to a token budget, closed-form runs of pure decode steps, preemption by recomputation,
and what happens when a step, a prefill or a request ends (disaggregated prefill hands its KV to
a decode worker). A mixin of :class:`nvlmodel.serve.engine._Sim`: its state lives there."""

from __future__ import annotations

import heapq
from collections import OrderedDict, deque

from .events import _CLIENT, _STEP
from .links import _Link, _Store
from .state import PrefillJob, StepPlan


class _Worker:
    __slots__ = ("i", "prefill_only", "decode_only", "cost", "pool", "used", "cached", "entries", "waiting",
                 "prefilling", "run", "fin", "due", "decoding", "context", "steps", "busy", "version", "plan",
                 "busy_time", "node",
                 "links", "host", "disk", "budget", "seats", "balance", "bal0", "hold", "hold_tokens", "held",
                 "holding", "recv", "recv0", "recvd", "prefilled_last", "rank_of", "rank_active", "rank_tokens",
                 "rank_run", "rank_ctx")

    def __init__(self, i, cost, pool, bs, node, prefill_only=False, decode_only=False):
        self.i, self.cost, self.pool, self.node = i, cost, pool, node
        self.prefill_only, self.decode_only = prefill_only, decode_only
        self.used = 0  # blocks held by admitted requests
        self.cached = 0  # blocks held by prefix entries
        self.entries: OrderedDict[int, list] = OrderedDict()  # group -> [tokens, refs], LRU first
        self.waiting: deque[int] = deque()
        self.prefilling: list[PrefillJob] = []  # prompts being prefilled, in admission order
        self.run: dict[int, tuple[int, int]] = {}  # rid -> (steps done at join, cache tokens at join)
        self.fin: list[tuple[int, int, int]] = []  # (finish counter, rid, epoch)
        self.due = [0] * bs  # decoding sequences needing a new block when steps = residue (mod bs)
        self.decoding = 0  # sequences decoding
        self.context = 0  # KV tokens the decoding sequences hold
        self.steps = 0  # decode steps done: the worker's step counter
        self.busy = False
        self.version = 0
        self.plan = None
        self.busy_time = 0.0
        self.links: dict[str, _Link] = {}
        self.host: _Store | None = None
        self.disk: _Store | None = None
        self.budget = self.seats = 0  # tokens per step and sequences: set by the engine from the deployment
        self.balance = 0  # attention-DP balance timeout in steps (0: off); set by the engine
        self.bal0 = 0  # the step counter when the balance's counter last restarted
        self.hold = 0  # batch wait: steps prompts are held at most (0: off); set by the engine
        self.hold_tokens = 0.0  # batch wait: tokens of a step that end it at once (0: none)
        self.held = 0  # batch wait: steps held since prompts last started
        self.holding = False  # whether the planned step holds prompts back (its steps count as held)
        self.recv = 0  # receive interval: decode steps between polls for new requests (0: every step)
        self.recv0 = 0  # the step counter at the last poll
        self.recvd = 0  # waiting requests the last poll took in (the head of the queue)
        self.prefilled_last = False  # whether the last step prefilled (the next poll is then at once)
        # under the attention-DP balance (``balance`` > 0) each request belongs to one rank, as
        # TensorRT-LLM assigns them (:meth:`Batcher.assign_rank`): its rank, and per rank the requests
        # assigned, their prompt tokens, the sequences decoding and the prompts waiting or prefilling
        self.rank_of: dict[int, int] = {}
        self.rank_active: list[int] = []
        self.rank_tokens: list[int] = []
        self.rank_run: list[int] = []
        self.rank_ctx: list[int] = []

    def set_balance(self, steps: int, ranks: int, by_rank: bool = True) -> None:
        """Hold prompts as TensorRT-LLM's attention-DP balance does, ``steps`` its timeout (0: off),
        over ``ranks`` attention-DP ranks; ``by_rank``: each request on one rank, with that rank's
        share of the token budget and seats (a worker that prefills; a disaggregated decode worker,
        which takes no prompts, counts its waiting requests against its ranks as a whole)."""
        self.balance = steps
        n = ranks if steps and by_rank else 0
        self.rank_active, self.rank_tokens, self.rank_run, self.rank_ctx = [0] * n, [0] * n, [0] * n, [0] * n


class Batcher:
    def enqueue(self, w, rid, t):
        worker = self.workers[w]
        first = not worker.waiting
        worker.waiting.append(rid)
        if worker.rank_active:
            self.assign_rank(worker, rid)
        if not worker.busy:
            self.schedule(worker, t)
        elif (first or worker.holding) and worker.plan is not None and worker.plan.kind == "decode":
            self.cut(worker, t)  # a held run ends too: the new prompt may fill the step

    def assign_rank(self, w: _Worker, rid: int) -> None:
        """TensorRT-LLM's assignment of a new request to an attention-DP rank
        (``_schedule_attention_dp_requests``, ``_balance_requests_across_ranks``): among the ranks
        holding fewer requests than the even share (the worker's requests, this one included, over
        its ranks, rounded up; at least the busiest rank's), the one whose requests hold the fewest
        prompt tokens (then the fewest requests, then the first). In a closed loop at full load that
        is the rank where a request just finished."""
        act, tok = w.rank_active, w.rank_tokens
        share = max(-(-(sum(act) + 1) // len(act)), max(act))
        r = min((i for i in range(len(act)) if act[i] < share), key=lambda i: (tok[i], act[i], i))
        w.rank_of[rid] = r
        act[r] += 1
        tok[r] += self.isl[rid]
        w.rank_ctx[r] += 1

    def cut(self, w: _Worker, t):
        """A request arrived while ``w`` runs a multi-step decode: end it at the next step boundary."""
        plan = w.plan
        t0, B, C0 = plan.start, plan.decoding, plan.context
        j = w.cost.decode_steps_within(B, C0, t - t0)
        if j < plan.steps:
            w.version += 1
            w.plan = StepPlan("decode", t0, j, B, C0, self.new_blocks(w, j))
            self.push(t0 + w.cost.decode_run(B, C0, j), _STEP, w, w.version)

    def new_blocks(self, w: _Worker, k: int) -> int:
        """Blocks the running sequences need for ``k`` more decode steps."""
        bs = self.bs
        if k == 1:  # the common case: the sequences whose next token starts a block
            return w.due[w.steps % bs]
        full, part = divmod(k, bs)
        s = w.decoding * full
        n, due = w.steps, w.due
        for i in range(part):
            s += due[(n + i) % bs]
        return s

    def steps_fitting(self, w: _Worker, free: int, limit: int) -> int:
        """The most decode steps (<= ``limit``) whose new blocks fit in ``free``."""
        bs = self.bs
        if w.decoding == 0:
            return limit
        full = min(free // w.decoding, limit // bs)
        k = full * bs
        left = free - full * w.decoding
        n, due = w.steps, w.due
        while k < limit:
            need = due[(n + k) % bs]
            if need > left:
                break
            left -= need
            k += 1
        return k

    def join(self, w: _Worker, rid: int, cache: int) -> None:
        """``rid`` starts decoding on ``w`` with ``cache`` tokens of KV."""
        w.run[rid] = (w.steps, cache)
        w.due[(w.steps - cache) % self.bs] += 1
        w.decoding += 1
        if w.rank_active:
            w.rank_run[w.rank_of[rid]] += 1
        w.context += cache
        heapq.heappush(w.fin, (w.steps + self.osl[rid] - self.emitted[rid], rid, self.epoch[rid]))

    def schedule(self, w: _Worker, t):
        """Plan ``w``'s next step at ``t``: decode every running sequence, fill the token budget with
        prefill chunks (partial prompts first, then new requests while blocks and seats last); a
        step without prefill runs as many decode steps as nothing else can change."""
        B = w.decoding
        if B:  # the running sequences first: blocks for their next step, by eviction or preemption
            need = self.new_blocks(w, 1)
            if need > self.free(w):
                self.evict(w, need)
                while w.decoding and self.new_blocks(w, 1) > self.free(w):
                    self.preempt_newest(w)
                B = w.decoding
        reserve = self.new_blocks(w, 1) if B else 0
        budget = w.budget - B
        chunks = []
        if w.recv:
            self.receive(w, B)
        held = w.waiting and ((w.balance and self.balance_holds(w)) or (w.hold and B and self.batch_wait_holds(w, B))
                              or (w.recv and not w.recvd))
        w.holding = bool(held) and bool(w.hold)
        if w.rank_active and (w.prefilling or (w.waiting and not held)):
            self.admit_by_rank(w, chunks, reserve, held)
            B = w.decoding
        elif budget > 0 and (w.prefilling or (w.waiting and not held)):
            prefilling = w.prefilling
            for job in prefilling:
                p = min(job.left, budget)
                if p > 0:
                    chunks.append((job, p))
                    budget -= p
                if budget <= 0:
                    break
            waiting = w.waiting
            while budget > 0 and waiting and not held and w.decoding + len(prefilling) < w.seats:
                rid = waiting[0]
                if not self.admit(w, rid, reserve):
                    break
                waiting.popleft()
                if w.recv:
                    w.recvd -= 1
                    if not w.recvd:
                        held = bool(waiting)  # the rest arrived after the poll
                if w.decode_only and self.preempt[rid] == 0:
                    if self.emitted[rid] == 1:  # transferred from prefill: its first token leaves now,
                        self.t_first[rid] = t  # once a seat and its blocks are reserved (TTFT counts the wait)
                    reserve = self.new_blocks(w, 1) if w.decoding else 0
                    continue
                job = prefilling[-1]
                p = min(job.left, budget)
                chunks.append((job, p))
                budget -= p
            B = w.decoding
        if chunks:
            dur = w.cost.step(B, w.context + B, [(job.done, p) for job, p in chunks])
            w.plan = StepPlan("mixed", t, 1, B, w.context, self.new_blocks(w, 1) if B else 0, chunks)
        elif B:
            fin, epoch = w.fin, self.epoch
            while fin and fin[0][2] != epoch[fin[0][1]]:  # drop preempted entries
                heapq.heappop(fin)
            k = fin[0][0] - w.steps
            if held:  # a run of decode steps ends where the balance, the batch wait or the next poll lets them in
                if w.recv and not w.recvd:
                    k = min(k, w.recv - (w.steps - w.recv0))
                else:
                    k = min(k, w.hold - w.held if w.hold else w.balance - (w.steps - w.bal0) % w.balance)
            km = self.steps_fitting(w, self.free(w), k)
            if km < k and w.cached:
                self.evict(w, self.new_blocks(w, k))
                km = self.steps_fitting(w, self.free(w), k)
            k = max(1, km)
            dur = w.cost.decode_run(B, w.context, k)
            w.plan = StepPlan("decode", t, k, B, w.context, self.new_blocks(w, k))
        else:
            w.busy = False
            w.plan = None
            return
        w.busy = True
        w.version += 1
        self.push(t + dur, _STEP, w, w.version)

    def admit_by_rank(self, w: _Worker, chunks: list, reserve: int, held: bool) -> None:
        """The prompts a worker under the attention-DP balance takes into this step, into
        ``chunks``: each rank fills its own share of the token budget and of the seats (TensorRT-LLM
        schedules each rank's requests on its own), its prompts in progress first, then its waiting
        ones in arrival order while they fit whole (a rank's first prompt of the step may be cut to
        its share: chunked); a rank whose next prompt does not fit takes no later one. With
        ``held`` (the balance holds them) only the prompts in progress run."""
        ranks = len(w.rank_active)
        share, seats = w.budget // ranks, w.seats // ranks
        rank_of = w.rank_of
        room = [share - n for n in w.rank_run]
        used = list(w.rank_run)
        started = [False] * ranks  # whether a rank has a prompt in this step
        for job in w.prefilling:
            r = rank_of[job.rid]
            used[r] += 1
            p = min(job.left, room[r])
            if p > 0:
                chunks.append((job, p))
                room[r] -= p
                started[r] = True
        if held:
            return
        waiting, keep, blocked = w.waiting, [], [False] * ranks
        isl, emitted = self.isl, self.emitted
        while waiting:
            rid = waiting[0]
            r = rank_of[rid]
            need = isl[rid] + emitted[rid]  # a preempted request prefills its emitted tokens too
            if blocked[r] or used[r] >= seats or room[r] <= 0 or (need > room[r] and started[r]):
                blocked[r] = True
                keep.append(waiting.popleft())
                continue
            if not self.admit(w, rid, reserve):
                break  # the pool is full: nothing more this step
            waiting.popleft()
            job = w.prefilling[-1]
            p = min(job.left, room[r])
            chunks.append((job, p))
            room[r] -= p
            used[r] += 1
            started[r] = True
        waiting.extendleft(reversed(keep))

    def receive(self, w: _Worker, B: int) -> None:
        """SGLang's scheduler under ``--scheduler-recv-interval`` (``SchedulerRecvSkipper``), for a
        worker about to plan a step with ``B`` sequences decoding: it polls for new requests (takes
        in every request that has arrived: ``w.recvd``) when it has nothing to decode, right after a
        step that prefilled, or once ``w.recv`` decode steps have run since the last poll; a poll
        restarts that count, and polls fall due every ``w.recv`` steps whether anything waits or not
        (a request that arrived after one waits for the next)."""
        if not B or w.prefilled_last:
            w.recvd, w.recv0 = len(w.waiting), w.steps
        elif w.steps - w.recv0 >= w.recv:
            # the polls due since passed with nothing new (a request waiting for one ends the run there)
            w.recv0 += (w.steps - w.recv0) // w.recv * w.recv
            if w.recv0 == w.steps:  # a poll falls due now
                w.recvd = len(w.waiting)
        w.prefilled_last = False

    def balance_holds(self, w: _Worker) -> bool:
        """TensorRT-LLM's attention-DP balance (``PyExecutor._balance_adp_requests``, with no
        batching wait), for a worker with prompts waiting: whether they stay waiting this step. They
        go in when some rank has nothing to decode, when every rank has a prompt of its own waiting
        or prefilling (each request is on one rank: :meth:`assign_rank`), or when the balance's
        counter of steps reaches ``w.balance``; each of these restarts the counter, which also
        restarts at each timeout with nothing waiting (every ``w.balance`` steps). (The engine also
        waits while some rank has no free seat; its seats are the engine's ``max_batch_size``, which
        the benchmark scripts leave at its default, 2,048 a rank: never full here.) A worker that
        counts its requests against its ranks as a whole (a disaggregated decode worker) lets them in
        when it decodes fewer sequences than it has ranks or has as many waiting."""
        ranks = w.cost.ranks
        since = w.steps - w.bal0
        if w.rank_active:  # each request on its rank
            go = min(w.rank_run) == 0 or min(w.rank_ctx) > 0
        else:
            go = w.decoding < ranks or len(w.waiting) >= ranks
        if go or (since > 0 and since % w.balance == 0):
            w.bal0 = w.steps
            return False
        w.bal0 += since // w.balance * w.balance  # the timeouts that passed with nothing waiting
        return True

    def batch_wait_holds(self, w: _Worker, B: int) -> bool:
        """TensorRT-LLM's batch waiting (``PyExecutor._waiting_requests``, without attention DP), for
        a worker with prompts waiting and ``B`` sequences decoding: whether the prompts stay waiting
        this step. They go in once ``w.hold`` steps have been held, or once the prompts the step
        could take (whole, within the token budget) and one token per decoding sequence reach
        ``w.hold_tokens``; either restarts the count of held steps (``w.held``, which
        :meth:`step_end` advances by the steps a held plan ran). With nothing decoding the engine
        does not wait and the count stays where it is."""
        if w.held < w.hold:
            room, tokens = w.budget - B, B
            isl = self.isl
            for rid in w.waiting:
                p = isl[rid]
                if p > room:
                    break
                room -= p
                tokens += p
            if not (w.hold_tokens and tokens >= w.hold_tokens):
                return True
        w.held = 0
        return False

    def leave(self, w: _Worker, rid: int, n0: int, cache0: int) -> int:
        """``rid`` (joined at counter ``n0`` with ``cache0`` tokens, already out of ``w.run``) stops
        decoding on ``w``: the tokens it emitted since are counted; returns its KV tokens now."""
        cache = cache0 + (w.steps - n0)
        self.emitted[rid] += w.steps - n0
        w.decoding -= 1
        if w.rank_active:
            w.rank_run[w.rank_of[rid]] -= 1
        w.context -= cache
        w.due[(n0 - cache0) % self.bs] -= 1
        return cache

    def preempt_newest(self, w: _Worker):
        """Recompute preemption: the most recently joined sequence gives back its blocks and goes
        back to the head of the queue, to prefill its prompt and the tokens it has emitted."""
        rid, (n0, cache0) = w.run.popitem()
        cache = self.leave(w, rid, n0, cache0)
        self.epoch[rid] += 1
        self.release(w, rid, cache, keep=False)
        self.preempt[rid] += 1
        w.waiting.appendleft(rid)
        if w.rank_active:
            w.rank_ctx[w.rank_of[rid]] += 1
        if w.recv:
            w.recvd += 1  # it is the engine's already

    def step_end(self, w: _Worker, t):
        plan = w.plan
        k, B = plan.steps, plan.decoding
        w.busy_time += t - plan.start
        if w.holding:
            w.held += k
            w.holding = False
        if B:
            w.steps += k
            w.context += B * k
            w.used += plan.blocks
        if plan.kind == "mixed":
            w.prefilled_last = True
            prefilled = self.prefilled
            for job, p in plan.chunks:
                rid = job.rid
                job.done += p
                job.left -= p
                prefilled[rid] += p
                if job.left == 0:
                    w.prefilling.remove(job)
                    self.prefill_done(w, rid, job.done, t)
        fin = w.fin
        if fin and fin[0][0] <= w.steps:
            epoch, run = self.epoch, w.run
            while fin and fin[0][0] <= w.steps:
                _, rid, ep = heapq.heappop(fin)
                if ep != epoch[rid]:
                    continue
                cache = self.leave(w, rid, *run.pop(rid))
                self.release(w, rid, cache, keep=True)
                self.complete(w, rid, t)
        self.schedule(w, t)

    def prefill_done(self, w: _Worker, rid, cache, t):
        if w.rank_active:
            w.rank_ctx[w.rank_of[rid]] -= 1
        self.emitted[rid] += 1
        if self.emitted[rid] == 1 and not w.prefill_only:
            self.t_first[rid] = t
        if w.prefill_only:
            self.release(w, rid, cache, keep=True)
            blocks = self._prompt_blocks(rid)
            self.loads[w.i] -= blocks
            dw = self._least_loaded(self.decode_pool)
            self.where[rid] = dw
            self.loads[dw] += blocks
            link = self.workers[dw].links.setdefault(self.kv_link, _Link())
            return self.transfer(link, dw, rid, self.isl[rid] * self.xfer_s_per_token + self.copies_s, t)
        if self.emitted[rid] >= self.osl[rid]:
            self.release(w, rid, cache, keep=True)
            return self.complete(w, rid, t)
        self.join(w, rid, cache)

    def complete(self, w: _Worker, rid, t):
        if w.rank_active:
            r = w.rank_of.pop(rid)
            w.rank_active[r] -= 1
            w.rank_tokens[r] -= self.isl[rid]
        self.t_done[rid] = t
        self.loads[w.i] -= self._prompt_blocks(rid)
        self.done += 1
        self._count(t, -1)
        if self.closed:
            if self.think:
                self.push(t + self.think, _CLIENT, None)
            else:  # the client's next request leaves now: what an event at t would do, one heap push and pop sooner
                self.arrive(t)
