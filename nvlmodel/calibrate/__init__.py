"""Calibrate the roofline against measured serving data, and say how far off it is (a subpackage:
:mod:`~nvlmodel.calibrate.model` the step model, :mod:`~nvlmodel.calibrate.data` measurements and
splits, :mod:`~nvlmodel.calibrate.fit` fitting and errors, :mod:`~nvlmodel.calibrate.headline` the
per-GPU headline; everything public is importable from ``nvlmodel.calibrate``).

The measurements (``nvlmodel/data/measurements.csv``, built by ``scripts/curate_measurements.py``)
are aiconfigurator's end-to-end rows for dense Llama-3.1 8B and 70B in aggregated serving on
H100 SXM, H200 SXM and B200 SXM: a closed-loop client keeps ``concurrency`` requests of ``isl``
input and ``osl`` output tokens in flight against one ``tp``-GPU engine, and reports the mean time
to first token (TTFT) and time per output token (TPOT).

The model of one configuration (:func:`predict`), per GPU of the TP group:

* a decode step of the ``concurrency`` sequences at their mean context ``isl + osl/2``
  (:func:`nvlmodel.roofline.decode_step`: weights once, each sequence's KV once, FLOPs at the
  compute dtype's peak) plus two all-reduces per layer of the batch's hidden state, timed by the
  NCCL alpha-beta fit of the fabric (:mod:`nvlmodel.collectives`), plus a fixed per-step overhead
  ``t_step``;
* a prefill of one prompt of ``isl`` tokens (:func:`nvlmodel.roofline.prefill`) plus its
  all-reduces, ``P``;
* TPOT = decode step + (concurrency - 1) / osl x ``P``: with continuous batching, the prompts of
  the other requests are prefilled in steps shared with this request's decode; each of the
  ``concurrency - 1`` others turns over once in this request's ``osl`` steps;
* TTFT = ``t_req`` + ``P`` x (1 + ``q`` x (concurrency - 1)): a fixed per-request cost (HTTP,
  tokenisation, scheduling), this prompt's prefill, and the prefills of the other requests it queues
  behind, a fraction ``q`` of the others.

The five parameters (:class:`Calibration`) are physical: ``bandwidth`` and ``compute`` are the
achieved fractions of datasheet HBM bandwidth and dense tensor peak, ``t_step`` and ``t_req`` are
seconds, ``q`` a fraction. They are fitted per serving engine (vLLM, TensorRT-LLM, SGLang) on the
calibration split, H100 and H200 rows only (:data:`CALIBRATION_SYSTEMS`); B200 rows are the held-out
split and are predicted with the Hopper-fitted parameters, never refitted. Rows whose KV cache
cannot hold every in-flight sequence (:func:`kv_fits` is false) queue for memory, which this model
does not describe: they are flagged, left out of the fit, and reported separately.

Chapter 8 extends the same model to the ``serving`` table (:data:`TABLES`): Qwen3-32B,
DeepSeek-V3/R1, Qwen3-235B-A22B and gpt-oss-120b, aggregated and disaggregated, on H100, H200,
B200 and GB200 NVL72. Workers of ``tp x attention_dp`` GPUs with expert parallelism read only the
experts a step touches (:func:`nvlmodel.roofline.decode_step`), exchange tokens with the measured
all-to-all (:func:`nvlmodel.collectives.moe_alltoall`), and in disaggregated serving decode
without prefill interference while TTFT adds the prompt's KV transfer (:func:`kv_transfer_time`)
and the closed loop's queue, for a prefill rank or for a decode seat where the benchmark configuration names
the seats, with its first requests' wave (:func:`disagg_wait`). Every
forward pass of an MoE model also pays ``t_moe`` per MoE layer (:attr:`Calibration.t_moe`: what the
engine runs around the expert block; zero for the dense table, whose models are dense), and a
worker whose expert all-to-all spans HGX nodes (:meth:`Config.crosses_domains`) pays ``t_xnode`` per
MoE layer for exchanging its tokens between them (:attr:`Calibration.t_xnode`), and one whose
tensor-parallel group spans two HGX nodes pays ``t_xar`` per all-reduce between them
(:meth:`Config.allreduces_across_nodes`, :attr:`Calibration.t_xar`) beside its bytes; both are
fitted on the rows that ran so once the engines' own fits are done, one value each for every
engine (:func:`nvlmodel.calibrate.fit.fit_internode`). One calibration per engine (``backend@serving``) is
fitted on H100/H200 rows of every model and both modes; B200 and GB200 rows are held out. Rows the
model cannot describe carry a ``left_out`` reason (:func:`left_out_table`).

The step can also come from the engines' measured kernels (``Calibration(step="kernels")``,
:func:`kernel_times`, :mod:`nvlmodel.kernels`): the fractions of peak then serve only rows the
kernel tables do not cover, and the fit keeps a cost per step, one per kernel call
(``t_launch``), ``t_moe``, ``t_req``, ``q`` and one scale on the linear layers' kernel time at
large steps (``kernel_scale``, :func:`kernel_scale_factor`: the builds that ran the rows against
the newer builds that timed the tables). That is the step :func:`fit`, :func:`fit_engines`,
:func:`fitted` and everything built on them take unless told otherwise (:data:`STATIC_STEP`: the
one the rule of :func:`nvlmodel.serve.validate.pick_step` picks on both tables' calibration rows);
the roofline above explains the numbers and stands in where no kernel table covers a row.
"""


from .data import (BELOW_BOUND, PARALLEL_COLUMNS, REQUIRED_COLUMNS, TABLES, beyond_envelope, calibration_rows, load_measurements,
                   serving_envelope)
from .fit import (ACCURACY_TARGETS, GRID, accuracy_target, accuracy_targets, bias_by_load, bias_by_tp, calibration_table,
                  error_summary, error_summary_by_step, fit, fit_engines, fitted, left_out_table, predictions)
from .headline import (HEADLINE_ENGINE, HEADLINE_POINTS, MEASURED_B200_FP4, MEASURED_H100_FP8, headline,
                       measured_per_gpu, measured_ratio, smallest_tp, waterfall)
from .model import (BENCHMARK_REQUESTS_PER_CLIENT, CALIBRATION_SYSTEMS, ENGINE_MEMORY, ENGINE_WORKSPACE_BYTES,
                    KERNEL_SCALE_GRID, KERNEL_SCALE_TOKENS, KV_DTYPES, METRICS, MODES, STATIC_STEP, STEP_MODELS, SYSTEMS,
                    WEIGHT_FORMAT, Calibration, Config, EngineMemory, accepted_tokens, batch_wait_steps, comm_time, components,
                    disagg_wait, engine_memory_table, kernel_scale_factor, kernel_times,
                    kv_capacity_of, kv_fits, kv_transfer_time, predict, recv_wait_steps, startup_wave, step_times,
                    tpot_bound)

__all__ = ["ACCURACY_TARGETS", "BELOW_BOUND", "BENCHMARK_REQUESTS_PER_CLIENT", "CALIBRATION_SYSTEMS", "ENGINE_MEMORY", "ENGINE_WORKSPACE_BYTES", "GRID", "HEADLINE_ENGINE",
           "KERNEL_SCALE_GRID", "KERNEL_SCALE_TOKENS",
           "HEADLINE_POINTS", "KV_DTYPES", "MEASURED_B200_FP4", "MEASURED_H100_FP8", "METRICS", "MODES",
           "PARALLEL_COLUMNS", "REQUIRED_COLUMNS", "STATIC_STEP", "STEP_MODELS", "SYSTEMS", "TABLES", "WEIGHT_FORMAT", "Calibration",
           "Config", "EngineMemory", "accepted_tokens", "batch_wait_steps", "beyond_envelope", "bias_by_load", "bias_by_tp", "calibration_rows", "calibration_table",
           "comm_time", "components", "disagg_wait", "engine_memory_table", "error_summary", "error_summary_by_step",
           "fit", "fit_engines", "fitted", "headline", "kernel_scale_factor", "kernel_times", "kv_capacity_of", "kv_fits", "kv_transfer_time",
           "left_out_table", "load_measurements", "measured_per_gpu", "measured_ratio", "predict", "predictions",
           "recv_wait_steps",
           "serving_envelope", "smallest_tp", "startup_wave", "step_times", "tpot_bound", "waterfall"]
