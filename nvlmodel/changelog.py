"""What changed between editions: the previous edition's values beside the current ones.

The previous values are a record (``nvlmodel/data/previous_edition.csv``, written by
``scripts/record_previous.py`` from the previous edition's own code); the current values are
computed here, live, so a chapter's "What changed" table follows any later change of the models.
Each entry names the chapter it belongs to and the correction that moved it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from .units import require_choice


@dataclass(frozen=True)
class Change:
    key: str
    chapter: str
    quantity: str
    unit: str  # display unit of both values
    scale: float  # SI value / scale = display value
    now: Callable[[], float]
    why: str


def _hbm(gpu: str) -> float:
    from .hardware import get_gpu

    return get_gpu(gpu).hbm_visible_bytes


def _nvl72_hbm() -> float:
    from .hardware import get_system

    return get_system("nvl72").total_hbm_visible_bytes


def _prefill_128k() -> float:
    from .roofline import prefill

    return prefill("gb200-b200", "llama-3.1-405b", "nvfp4", prompt=131_072, tp=8, kv_bytes_per_element=2.0).time


def _capacity(label: str) -> float:
    from .kvbm import capacity_table

    return float(capacity_table("datasheet").set_index("configuration").loc[label, "sessions_128k"])


def _block() -> float:
    from .hardware import get_gpu
    from .kvbm import block_transfer

    return block_transfer("llama-3.1-405b", get_gpu("gb200-b200").nvlink_bw_per_direction, tp=8).time


@lru_cache(maxsize=1)
def _routing():
    from .kvbm import Workload, generate_requests, simulate_rack

    ws = Workload(system_prompt_tokens=1024, frac_system=0.5, frac_multiturn=0.3, unique_tokens=512, turn_tokens=128)
    return simulate_rack(generate_requests(3000, ws, rng_seed=0), "dynamo", blocks_per_gpu=512, tp=8)


def _allreduce() -> float:
    from .collectives import engine_allreduce, tp_step_allreduce_time

    return tp_step_allreduce_time("llama-3.1-405b", 256, engine_allreduce("gb200", 8, "nccl").time)


def _e2e_adv(metric: str) -> Callable[[], float]:
    def f() -> float:
        from . import endtoend as e2e

        return e2e.advantage(metric, e2e.cells("datasheet"))
    return f


def _e2e(what: str) -> float:
    from . import endtoend as e2e

    return e2e.rack_decode_tok_s("datasheet") if what == "rack" else e2e.cells("seed")["nvl72"].swap_s * 1e3


@lru_cache(maxsize=1)
def _held_out():
    from . import calibrate as cal

    p = cal.predictions()
    return p[p.kv_fits & (p.split == "held-out")]


def _heldout(metric: str) -> float:
    return float(_held_out()[f"{metric}_err_pct"].abs().median())


def _bias(precision: str, tp: int) -> float:
    h = _held_out()
    return float(h[(h.precision == precision) & (h.tp == tp)].tpot_err_pct.median())


def _headline(i: int) -> float:
    from .calibrate import headline

    return float(headline().calibrated_ratio.iloc[i])


@lru_cache(maxsize=1)
def _serving_pred():
    from . import calibrate as cal
    from .search import fitted_serving

    return cal.predictions(cal.load_measurements(table="serving"), fitted_serving())


def _serving_heldout(system: str, metric: str) -> float:
    p = _serving_pred()
    h = p[p.kv_fits & (p.split == "held-out") & (p.system == system)]
    return float(h[f"{metric}_err_pct"].abs().median())


@lru_cache(maxsize=1)
def _ds_buys():
    from . import search

    return search.what_buys("deepseek-v3", 1024, 1024, search.SLA(2.0, 0.05), 50.0)["everything"]


@lru_cache(maxsize=2)
def _coverage_table(table: str):
    from . import calibrate as cal
    from .calibrate.intervals import step_coverage

    return step_coverage(cal.load_measurements(table=table),
                         {s: cal.fitted(s, table=table) for s in cal.STEP_MODELS}).set_index(
        ["split", "system", "metric"]).coverage


def _coverage(table: str, system: str, metric: str) -> float:
    return float(_coverage_table(table)[("held-out", system, metric)])


def _rack() -> float:
    from .serve.validate import rack_capacity

    return rack_capacity()["tok_s"]


def _ledger(status: str) -> float:
    from .claims import status_counts

    return status_counts()[status]


_WHY_HBM = "HBM is the bytes software sees (nvidia-smi), not MLPerf's GiB-scale labels read as GB"
_WHY_ATT = "attention's Q.K^T and A.V run at the BF16 peak, not the FP4 peak of the weight GEMMs"
_WHY_E2E = ("like with like: an FP8 KV cache on both sides, each side at the largest batch that fits, TP "
            "all-reduce from the engine's measured kernels, attention at its own dtype, visible HBM")
_WHY_CAL = ("TP all-reduce from each engine's measured kernels and the HGX B200 8-GPU curves (no extrapolation), "
            "attention at its own dtype, visible HBM, per-engine KV memory rules; since 1a31b89 an FP8 KV cache for "
            "TensorRT-LLM's FP8/NVFP4 checkpoints and the engine's 3 GB workspace in every memory check; measured "
            "all-reduce and kernel times read so that a smaller message or batch is never slower than a larger "
            "measured one; InferenceMAX's 70B rows with the FP8 KV cache, tokens per step and TensorRT-LLM batch "
            "wait their scripts set"
            "; since this edition every calibrated figure stands on the measured-kernel step, the one the book's "
            "rule picks on calibration rows (chapter 7), with HGX B200 and GB200 priced from the faster of their "
            "two campaigns' timings of one kernel where those lie more than 1.25x apart")

_WHY_INTERVALS = ("a GPU no fit has seen takes the hull of the roofline's and the measured-kernel step's intervals, "
                  "each around its own prediction, widened by the factor that makes it hold 80 % of one Hopper "
                  "GPU's rows fitted on the other; in the kernel step TensorRT-LLM's block-scaled FP8 GEMM stands in "
                  "for vLLM's, whose timings are the host's")
_WHY_SERVING = ("repeated measurements of one configuration counted once; attention-TP + EP workers sum their "
                "experts with an all-reduce, not a full-batch all-to-all; memory checks keep the engine's 3 GB "
                "workspace; TensorRT-LLM keeps FP8/NVFP4 checkpoints' KV cache in FP8; the roofline's step is two "
                "phases (weight GEMMs, then attention), each bound by its own memory or compute time; disaggregated "
                "rows of InferenceMAX's exports take their layout from its configuration file, and the rows it ran "
                "with MTP speculative decoding, aggregated or disaggregated, are left out; SGLang on Blackwell runs "
                "TensorRT-LLM's kernels, and on one B200 node the FP8 KV cache its benchmark script sets; measured "
                "all-reduce and kernel times read so that a smaller message or batch is never slower than a larger "
                "measured one; every forward pass pays a fitted cost per MoE layer beside the cost per step; "
                "InferenceMAX's GB200 TensorRT-LLM DeepSeek configurations run by Dynamo's benchmark script "
                "matched at their clients per decode worker; vLLM's and (from 2025-10-20) TensorRT-LLM's B200 gpt-oss "
                "rows with the FP8 KV cache their scripts set; SGLang's B200 DeepSeek rows hold a new request half the "
                "receive interval their scripts set; an expert-parallel worker spanning HGX nodes pays the measured "
                "cost of exchanging its tokens between them in every MoE layer; a tensor-parallel group over two HGX "
                "nodes is modelled, each all-reduce between them paying its bytes and a fitted cost (H100 HGX meets "
                "50 tokens/s per user for DeepSeek-R1 with it)"
                "; since this edition every calibrated figure stands on the measured-kernel step, the one the book's "
                "rule picks on calibration rows (chapter 7), with HGX B200 and GB200 priced from the faster of their "
                "two campaigns' timings of one kernel where those lie more than 1.25x apart")

CHANGES: tuple[Change, ...] = (
    Change("hbm.b200", "01-hardware", "B200 HBM visible to software", "GB", 1e9, lambda: _hbm("b200"), _WHY_HBM),
    Change("hbm.gb200", "01-hardware", "GB200 GPU HBM visible to software", "GB", 1e9, lambda: _hbm("gb200-b200"),
           _WHY_HBM),
    Change("hbm.nvl72", "01-hardware", "NVL72 HBM visible to software", "TB", 1e12, _nvl72_hbm, _WHY_HBM),
    Change("prefill.405b.128k", "02-fp4", "405B prefill of one 128K prompt, GB200 TP8, NVFP4 (bound)", "s", 1.0,
           _prefill_128k, _WHY_ATT),
    Change("capacity.nvl72.sessions", "04-kvbm", "128K sessions in NVL72 KV (datasheet)", "count", 1.0,
           lambda: _capacity("72x B200 NVL72 (FP4 weights, FP8 KV)"), _WHY_HBM),
    Change("capacity.h100x8.sessions", "04-kvbm", "128K sessions in 8x H100 KV (datasheet)", "count", 1.0,
           lambda: _capacity("8x H100 (FP8 weights, FP16 KV)"), _WHY_HBM),
    Change("block.405b", "04-kvbm", "one 16-token KV block of 405B across the rack (datasheet)", "us", 1e-6, _block,
           "a paged block is one copy per layer and TP shard, each with its own latency"),
    Change("routing.workers", "04-kvbm", "workers the router chooses among", "count", 1.0,
           lambda: _routing().workers, "a worker is a TP8 group serving one replica, not a GPU"),
    Change("routing.dynamo.hit", "04-kvbm", "Dynamo-policy prefix hit rate, 512 blocks of memory per GPU", "%", 0.01,
           lambda: _routing().hit_rate, "9 TP8 workers, each pooling 8 GPUs' memory, instead of 72 GPUs"),
    Change("routing.dynamo.imbalance", "04-kvbm", "Dynamo-policy load imbalance (max / mean)", "x", 1.0,
           lambda: _routing().load_imbalance, "9 TP8 workers instead of 72 GPUs"),
    Change("allreduce.gb200.tp8.decode", "05-gang-scheduling", "GB200 TP8 NCCL all-reduce per 405B decode step, batch 256",
           "ms", 1e-3, _allreduce, "the measured HGX B200 8-GPU curve stands in for GB200, not an H100-scaled extrapolation"),
    Change("e2e.adv.prefill_tok_s", "06-end-to-end", "prefill advantage (datasheet)", "x", 1.0,
           _e2e_adv("prefill_tok_s"), _WHY_E2E),
    Change("e2e.adv.decode_tok_s", "06-end-to-end", "decode advantage (datasheet)", "x", 1.0,
           _e2e_adv("decode_tok_s"), _WHY_E2E),
    Change("e2e.adv.sessions_128k", "06-end-to-end", "128K-session advantage (datasheet)", "x", 1.0,
           _e2e_adv("sessions_128k"), "the same FP8 KV cache on both sides; visible HBM"),
    Change("e2e.adv.kv_block_us", "06-end-to-end", "KV-block transfer advantage (datasheet)", "x", 1.0,
           _e2e_adv("kv_block_s"), "per-layer copies: per-copy latency, not link bandwidth, sets the time"),
    Change("e2e.rack.datasheet", "06-end-to-end", "rack decode rate, 9 replicas (datasheet)", "tok/s", 1.0,
           lambda: _e2e("rack"), _WHY_E2E),
    Change("e2e.swap.seed.nvl72", "06-end-to-end", "NVL72 model swap by the document's method", "ms", 1.0,
           lambda: _e2e("swap"), "the table's own model (405B, a TP8 shard per GPU); the printed cell is 70B"),
    Change("cal.heldout.tpot_mdape", "07-validation", "held-out B200 TPOT MdAPE", "%", 1.0,
           lambda: _heldout("tpot"), _WHY_CAL),
    Change("cal.heldout.ttft_mdape", "07-validation", "held-out B200 TTFT MdAPE", "%", 1.0,
           lambda: _heldout("ttft"), _WHY_CAL),
    *(Change(f"cal.bias.{p}.tp{tp}", "07-validation", f"held-out B200 TPOT bias, {p.upper()} TP{tp}", "%", 1.0,
             (lambda p=p, tp=tp: _bias(p, tp)), _WHY_CAL) for p in ("fp4", "fp8") for tp in (1, 2, 4, 8)),
    Change("headline.decode1", "07-validation", "calibrated B200 FP4 / H100 FP8 per GPU, decode batch 1", "x", 1.0,
           lambda: _headline(0), _WHY_CAL),
    Change("headline.decode64", "07-validation", "calibrated B200 FP4 / H100 FP8 per GPU, decode batch 64", "x", 1.0,
           lambda: _headline(1), _WHY_CAL),
    Change("headline.prefill", "07-validation", "calibrated B200 FP4 / H100 FP8 per GPU, 4K prefill", "x", 1.0,
           lambda: _headline(2), _WHY_CAL + "; H100 now holds the 4K prefill on one GPU"),
    *(Change(f"coverage.{table}.{sys_}.{m}", "07-validation",
             f"held-out {name} {m.upper()} rows inside their 80 % interval ({table} table)", "%", 0.01,
             (lambda table=table, sys_=sys_, m=m: _coverage(table, sys_, m)), _WHY_INTERVALS)
      for table, sys_, name in (("dense", "b200_sxm", "B200"), ("serving", "b200_sxm", "B200"),
                                ("serving", "gb200", "GB200")) for m in ("tpot", "ttft")),
    Change("serving.modelled_rows", "08-moe-disagg", "serving rows modelled", "count", 1.0,
           lambda: float(len(_serving_pred())), _WHY_SERVING),
    *(Change(f"serving.heldout.{sys_}.{m}_mdape", "08-moe-disagg", f"held-out {name} {m.upper()} MdAPE", "%", 1.0,
             (lambda sys_=sys_, m=m: _serving_heldout(sys_, m)), _WHY_SERVING)
      for sys_, name in (("b200_sxm", "B200"), ("gb200", "GB200")) for m in ("tpot", "ttft")),
    Change("serving.ds.gb200_over_h100", "08-moe-disagg", "DeepSeek-R1 per GPU at 50 tok/s/user, GB200 NVL72 / H100 HGX",
           "x", 1.0, lambda: float(_ds_buys()["GB200 NVL72"] / _ds_buys()["H100 HGX"]), _WHY_SERVING),
    Change("serving.ds.gb200_over_b200", "08-moe-disagg", "DeepSeek-R1 per GPU at 50 tok/s/user, GB200 NVL72 / B200 HGX",
           "x", 1.0, lambda: float(_ds_buys()["GB200 NVL72"] / _ds_buys()["B200 HGX"]), _WHY_SERVING),
    Change("rack.sim.tok_s", "09-under-load", "rack output tok/s within the SLA, Llama 405B on nine TP8 replicas",
           "tok/s", 1.0, _rack, "the load bisected to 1 request/s between the grid's loads (the grid gave the highest "
           "grid load that met the SLA, a lower bound); the median of three draws of the arrivals, not one; "
           "the step in two phases (weight GEMMs, then attention); since this edition the simulated replicas "
           "take the measured-kernel step (chapter 7's rule), whose NVFP4 GEMMs on Blackwell reach less of "
           "the FP4 peak than the roofline's Hopper-fitted fraction"),
    *(Change(f"ledger.{s}", "90-errata", f"ledger claims {s}", "count", 1.0, (lambda s=s: _ledger(s)),
             "the 405B table's swap cells are 70B figures; the document's sessions and block copies unchanged")
      for s in ("reproduced", "inconsistent", "not-derivable")),
)
CHAPTERS: tuple[str, ...] = tuple(dict.fromkeys(c.chapter for c in CHANGES))
#: What each chapter's correctness pass changed, in words (the appendix page prints it above the
#: chapter's table), and the chapter's label in the book.
NOTES: dict[str, tuple[str, str]] = {
    "01-hardware": ("chapter-hardware",
        "The correctness pass changed the HBM this book counts: the bytes software sees (nvidia-smi's total), "
        "where the previous edition used MLPerf's GiB-scale labels as if they were decimal GB. Every KV "
        "budget in later chapters follows."),
    "02-fp4": ("chapter-fp4",
        "Attention's two matrix products (Q.K^T and A.V) now run at the attention dtype's peak (BF16, or FP8 "
        "with an FP8 KV cache), not at the FP4 peak of the weight GEMMs; this matters at long prompts. FP4 is "
        "modelled as NVFP4 weights *and* activations (W4A4), what the engines run; W4A8, the seed's runner "
        "sketch, is a named option at the FP8 rate."),
    "04-kvbm": ("chapter-kvbm",
        "KV capacity uses the HBM software sees and keeps at least one whole KV head per GPU (heads are "
        "replicated beyond TP = KV heads); a paged KV block moves as one copy per layer and TP shard, each "
        "with its own latency; and the routing simulation chooses among TP groups (9 TP8 workers for 405B on "
        "72 GPUs), each pooling its GPUs' KV memory, not among 72 GPUs."),
    "05-gang-scheduling": ("chapter-gang",
        "Tensor-parallel all-reduce now comes from measurements only: the HGX B200 8-GPU curves (NCCL and the "
        "engines' own kernels) stand in for GB200 beyond its measured 4 GPUs, where the previous edition "
        "scaled GB200's 4-GPU fit like H100's."),
    "06-end-to-end": ("chapter-end-to-end",
        "The datasheet column now compares like with like: an FP8 KV cache on both sides, each side at the "
        "largest decode batch that fits (flagged), TP all-reduce from TensorRT-LLM's measured kernels, "
        "attention at its own dtype, visible HBM, KV blocks as per-layer copies. The document's model-swap "
        "cells are Llama 70B figures; by the table's own model (405B, a TP8 shard per GPU) they differ."),
    "07-validation": ("chapter-validation",
        "The calibration was redone with each engine's measured all-reduce kernels (HGX B200 8-GPU curves "
        "instead of an extrapolation), attention at its own dtype, visible HBM and per-engine KV memory "
        "rules. Nothing was fitted on B200 rows.\n\n"
        "Since 89dbce6 an interval for a GPU no fit has seen spans both step models (the roofline and "
        "measured kernels), checked first on the two Hopper GPUs alone, and is as wide as that check says it "
        "must be (it had been the wider of two error samples); the coverage rows below are in percent of "
        "held-out rows.\n\n"
        "Measured kernel and all-reduce times are now read so that no call is slower than a larger measured "
        "one (vLLM's B200 FP8 GEMMs and 8-GPU all-reduce had timings that broke that order).\n\n"
        "InferenceMAX's 70B rows now carry what their scripts set: an FP8 KV cache in both engines, the "
        "tokens per step, and for TensorRT-LLM at 1K/1K below TP 8 a batch wait of up to 20 decode steps "
        "before a new prompt starts, which the model and the simulation now hold (it was most of those rows' "
        "TTFT).\n\n"
        "The calibration rows are also predicted by fits that never saw their configuration (five folds), and"
        " the intervals, which the chapter had called split conformal though their quantiles come from the "
        "rows the fit was made on, are checked against those predictions.\n\n"
        "A new section measures what one measured row per deployment on the new GPU buys (its miss moves the "
        "deployment's other predictions): from one Hopper GPU to the other it cuts the serving table's TPOT "
        "error by a fifth to a half, and the simulated TTFT's by about two thirds (chapter 9), and gains "
        "little on the dense table.\n\n"
        "The step from measured kernels now fits one more parameter per engine, how much longer than the "
        "tables say the engine's linear layers took in large steps (1 or more; vLLM's builds take 1.3 and "
        "1.5, every other engine 1).\n\n"
        "Which step the static formula takes is now weighed by the rule chapter 9 picks the simulation's "
        "by (a paired bootstrap of the calibration rows, a tie to the measured kernels), on TPOT, the "
        "formula's number of record: it would take the kernels on both tables (this chapter's a tie, "
        "chapter 8's a win). The chapter had said the roofline erred less on this chapter's rows, by 0.2 "
        "points, and that neither step won on chapter 8's, counting the formula's TTFT, which the book "
        "takes from the simulation. The formula then kept the roofline for the deployment search's sake "
        "(until the change below), and the chapter said so.\n\n"
        "HGX B200 and GB200 carry one die, measured by the same engine builds in two campaigns. Where their "
        "kernel tables time one kernel at one shape more than 1.25x apart, both systems now take the faster "
        "timing: 14,648 of the 52,976 timings they share, most of them vLLM's MLA module on GB200 (a median "
        "1.7x HGX B200's) and 581 of TensorRT-LLM's MoE timings on HGX B200 (DeepSeek-R1's NVFP4 block split "
        "four to sixteen ways by expert, 1.6-1.9x GB200's). Calibration rows are Hopper's, so no fit moved; "
        "the measured-kernel step's held-out B200 TPOT went from 6.3 to 6.2 % on this chapter's rows (TTFT "
        "10.9 to 12.0 %) and from 18.1 to 17.1 % on chapter 8's.\n\n"
        "Every calibrated figure of the book now stands on the measured-kernel step, which the rule chapter 9 "
        "applies to the simulation picks on both tables' calibration rows (`calibrate.STATIC_STEP`); the "
        "roofline stays this chapter's explanation, its tables beside the kernels', and stands in where no "
        "kernel table covers a configuration. Held-out dense B200 TPOT errs 6.2 % instead of 10.3 %, TTFT "
        "12.0 % instead of 19.5 %. The calibrated per-GPU ratios of B200 FP4 over H100 FP8 fall from 3.0-3.4x "
        "(decode) and 4.4x (prefill) to 2.0-2.4x and 2.8x; the measured 2.7-3.2x lies between the two steps' "
        "values, and the chapter prints both. What one measurement per deployment buys is scored with the "
        "kernel step."),
    "08-moe-disagg": ("chapter-moe-disagg",
        "The serving table now counts each measured configuration once (it held 315 configurations two to "
        "four times, from several data dumps), expert-parallel workers with tensor-parallel attention sum "
        "their experts' outputs with an all-reduce instead of paying a full-batch all-to-all, and every "
        "memory check keeps the engine's own workspace (activations, kernel workspaces, CUDA graphs: 3 GB per "
        "GPU), and TensorRT-LLM keeps the KV cache of FP8 and NVFP4 checkpoints in FP8, as it inherits the "
        "checkpoint's KV quantization. The step time from measured kernels is new (shown in the chapter "
        "beside the roofline); the values here were then the roofline's (until the last change below). Rows whose TPOT "
        "is shorter than the hardware allows for their recorded batch are left out (eight H100 vLLM rows had "
        "been fitted, and had pulled vLLM's fractions to the full bandwidth and peak), and eleven rows of the "
        "database dump that recorded 64-GPU workers on one 8-GPU node are corrected as the 2026-04-06 dump's "
        "were (all eleven repeat configurations already kept).\n\nAggregated rows InferenceMAX ran with MTP "
        "speculative decoding are now left out as the disaggregated ones were; SGLang on Blackwell runs "
        "TensorRT-LLM's kernels, and its single-node B200 rows the FP8 KV cache their script sets; measured "
        "kernel and all-reduce tables are read so that no call is slower than a larger one.\n\nEach forward pass "
        "now pays a cost per MoE layer, fitted per engine beside the cost per step (SGLang's dense and MoE rows "
        "had shared one cost per step, and its fit split the difference); and InferenceMAX's GB200 "
        "TensorRT-LLM DeepSeek configurations that Dynamo's benchmark script ran (2025-12 to 2026-01) are "
        "matched at the clients that script runs, the listed concurrency per decode worker.\n\nInferenceMAX's vLLM "
        "gpt-oss-120b runs on B200 from 2025-12-05 keep the FP8 KV cache their script sets. The cost per MoE "
        "layer now rests on configurations left out of the fit, the test that can go against a parameter "
        "(in sample the fit takes it only where it lowers its errors); the chapter had said that without it "
        "each Hopper GPU is predicted from the other as well as with it, a figure from a script that scored "
        "that test with the book's own fits: corrected, H100 is predicted better without it.\n\nInferenceMAX's "
        "gpt-oss-120b rows now carry the MoE kernel their scripts select: vLLM's B200 runs use FlashInfer's "
        "MXFP4 x MXFP8 experts, priced by TensorRT-LLM's W4A8 table (the same TensorRT-LLM-gen kernels) instead "
        "of vLLM's BF16-activation one; TensorRT-LLM's B200 runs from 2025-10-20 keep the FP8 KV cache their "
        "script sets. SGLang's DeepSeek-R1 runs on one B200 node take FlashInfer's TensorRT-LLM-gen MoE, which "
        "their scripts select, priced by vLLM's B200 table of it (TensorRT-LLM's tables timed DeepGEMM and "
        "CUTLASS), and TensorRT-LLM's the MoE backend their scripts chose (DeepGEMM, CUTLASS or TensorRT-LLM-gen).\n\n"
        "Rows InferenceMAX ran only with MTP speculative decoding, with a draft length its configuration "
        "file, scripts or recipes record, are now modelled instead of left out: each decode step verifies "
        "the drafted tokens and runs the one-layer draft module, and the chance that a draft is accepted is "
        "fitted on the Hopper rows run so, one value for every engine, after the efficiencies (which those "
        "rows do not reach). The held-out error tables count those rows now, GB200's most; the simulation "
        "(chapter 9) replays them with the same step, charged per token emitted.\n\nInferenceMAX's GB200 SGLang "
        "DeepSeek-R1 rows are now expert-parallel over each side's GPUs, as their launch script ran them (the "
        "configuration file had listed ep 1 until InferenceMAX corrected it), and every expert-parallel side "
        "of eight or more GPUs holds the 32 redundant experts the script and its recipes set: 288 slots, so "
        "that workers of 24 and 48 GPUs are modelled (and the search considers a rack-wide, 72-GPU "
        "expert-parallel worker, with 32).\n\nA layout is read as its recipe ran it: InferenceMAX audited its "
        "listed parallelism "
        "against the recipe files on 2026-03-23 without changing a recipe, so runs listed before the audit take "
        "the corrected layout (28 rows that matched both listings are recovered, and measurements the database "
        "dump had recorded under the old listing count once beside their remeasurement).\n\nAn attention-DP, "
        "expert-parallel worker whose GPUs span more than one HGX node now pays, in every MoE layer of every "
        "forward pass, for exchanging its tokens between the nodes: a cost fitted on the three H100 rows whose "
        "decode workers ran so (their TPOT had been predicted about half of what was measured), one value for "
        "every engine, after the engines' own fits, which those rows no longer reach. The search's H100 "
        "deployments of DeepSeek-R1, which all spanned nodes, lose most of their predicted throughput, and none "
        "meets 50 tokens/s per user (measured, only tensor parallelism over two nodes did, a layout the model "
        "does not hold); at high interactivity B200 HGX keeps its experts inside one node.\n\nThe model now holds "
        "that layout too: a tensor-parallel group over two whole HGX nodes, whose all-reduces run NCCL inside "
        "each node as measured, send their bytes between the nodes through each GPU's NIC at line rate, and pay "
        "a fitted cost each beside that, fitted with the exchange's cost on the H100 rows that ran so (eight "
        "rows of one configuration). The search then finds H100 deployments of DeepSeek-R1 that meet 50 "
        "tokens/s per user, all of them of that layout, and the rack's ratio to H100 there has a value again. "
        "Forty-nine B200 rows the database dump had recorded under another layout than their copies in "
        "InferenceMAX's export (tp = tp x ep) are duplicates of those copies: left out, as before, but no longer "
        "for a layout they did not run, and not counted twice now that the model holds two nodes. With the "
        "decode seats of the database dump's H100 runs (chapter 9) the cost per all-reduce between nodes is "
        "fitted at 65 us instead of 59 us, and the static formula's disaggregated TTFT waits for a decode seat "
        "where a recipe gave its decode workers fewer seats than the benchmark had clients.\n\n"
        "A new table gives both steps' TPOT bias by sequences per attention rank: on the held-out rows the "
        "roofline's turns from +9 % at 1-4 a rank to -37 % beyond 256, the kernels' stays within +2 to +10 %, "
        "and the Hopper rows show no such drift. It was read after the choice of step, which it does not "
        "change; the findings page now says where its figures stand on that table.\n\n"
        "The deployment search and its intervals now stand on the measured-kernel step (chapter 7), the "
        "chapter's error tables still showing the roofline first and the kernels beside it. For DeepSeek-R1 at "
        "50 tokens/s per user a GB200 NVL72 GPU serves 1.0x (0.7-1.9) a B200 HGX GPU's tokens instead of 1.2x "
        "(0.6-2.0), and 230x an H100 HGX GPU's instead of 270x; the best Blackwell points hold 40-102 "
        "sequences a rank instead of 81-256."),
    "09-under-load": ("chapter-under-load",
        "The simulation's TTFT, the book's predictor of record for it, now takes for each table the step its "
        "calibration rows pick (the serving table's replay runs on the engines' measured kernels), and the "
        "document's rack claim is found to 1 request/s between the loads tried and given as the median of "
        "three draws, with their range.\n\n"
        "The replay schedules InferenceMAX's 70B rows with their scripts' tokens per step and TensorRT-LLM's "
        "batch wait, and its gpt-oss-120b rows with their scripts' tokens per step (vLLM 8,192, TensorRT-LLM "
        "20,000); a table's step is the one that errs less on its calibration rows only where those rows "
        "resolve the difference (a tie, as the serving table's is, goes to the measured kernels).\n\n"
        "The InferenceMAX rows are split by whether their client warmed the engine up first (it did from "
        "2026-01-21): the runs that started cold are the ones whose TTFT the simulation misses most. One "
        "measured row per deployment, its miss moving the deployment's other simulated values, takes the "
        "simulated TTFT's error from one Hopper GPU to the other to about a third of what it was.\n\n"
        "With each engine's kernel scale (chapter 7) both tables' replays now run on the measured kernels: "
        "the serving table's calibration rows pick them outright and the dense table's tie, where they had "
        "picked the roofline; earlier editions printed both dense steps' held-out errors, and the kernels' "
        "were lower.\n\n"
        "The replay prices vLLM's B200 gpt-oss-120b rows with the MoE kernel their script selects (chapter "
        "8), and holds the new requests of SGLang's B200 DeepSeek-R1 rows until the engine polls for them, "
        "every 10 or 30 decode steps as their scripts set (the static formula adds half that cycle); SGLang's"
        " DeepSeek-R1 rows on B200 and H200 are replayed with the prefill tokens per step their scripts set, "
        "and TensorRT-LLM's with the 8,192 tokens per step its scripts take at least from 2026-01-21.\n\n"
        "Rows run with MTP speculative decoding, now modelled (chapter 8), are replayed too, each decode step"
        " charged per token emitted; they join this chapter's tables.\n\n"
        "A step that only prefills on an attention-DP worker is now charged to its busiest rank (a lone 8K "
        "prompt on eight ranks had cost an eighth of its dense GEMMs and attention), and a prompt's attention "
        "from measured kernels is fitted over prompt lengths (one length scaled by its (query, key) pairs had "
        "put DeepSeek's 1K prompts at a quarter of the kernel's time): the H200 disaggregated rows' simulated "
        "TTFT error went from 55 % (bias +17 %) to 24 % (-17 %), the held-out disaggregated rows' from 58 to "
        "40 % on B200 and from 43 to 38 % on GB200.\n\n"
        "The simulated step's decode attention from measured kernels is now fitted over batches and contexts "
        "(a part per step, per sequence and per context token): one kernel time scaled by the context read "
        "had put DeepSeek's decode steps at large batches up to three times the static model's. The replay's "
        "TPOT moved to the static model's, and its TTFT rose where a prefill pool binds: a faster decode "
        "sends the next prompts sooner.\n\n"
        "Under TensorRT-LLM's attention-DP balance each request now waits on the rank the engine assigns it, "
        "within that rank's share of the tokens per step, as the engine schedules it; the replay had shared "
        "one queue and one budget across the ranks, and those rows' TTFT was under-predicted by about three "
        "quarters on H200.\n\n"
        "Rows of the database dump now carry the decode seats and prefill limits their recipes set, where "
        "the configurations InferenceMAX listed for the same run agree on them (the dump records layouts, "
        "not limits): H100's TensorRT-LLM runs at 6, 9 and 30 clients gave three decode workers 1, 2 and 8 "
        "seats, and their first tokens waited seconds for one. Their simulated TTFT, under-predicted by "
        "75-98 %, now errs by a few percent, and H100's disaggregated bias went from -66 % to -30 %. The "
        "configurations that run a recipe of srt-slurm carry its prefill limits, where every version of the "
        "recipe agrees (TensorRT-LLM's: 2 to 16 prompts and 2,048 to 16,640 tokens a rank; SGLang's "
        "max-running-requests and token budgets, over the DP ranks as SGLang divides them); the replay had let "
        "a prefill rank take one prompt a step. H200's disaggregated replay, biased +15 %, is now -6 %.\n\n"
        "The replay's measured kernels price HGX B200 and GB200, one die, from the faster of their two "
        "campaigns' timings where those lie more than 1.25x apart (chapter 7): the held-out B200 serving rows' "
        "simulated TPOT went from 16.4 to 15.9 % (bias +5 to +1 %), their TTFT moved by less than a point, "
        "and the dense B200 rows' simulated TTFT from 9.2 to 10.5 %.\n\n"
        "The static formula beside the simulation is now the measured-kernel step's (chapter 7). Its held-out "
        "TTFT errs less than before (dense B200 12 % instead of 20 %; serving B200 41 and 38 % instead of 46 "
        "and 53 %, aggregated and disaggregated; GB200 48 and 33 % instead of 59 and 46 %), and the simulation "
        "now errs more than it on two groups, by about a point (B200 disaggregated, GB200 aggregated). The rack "
        "and chat simulations, whose replicas had taken the roofline's step while the replays took the "
        "kernels, take the kernels too: the document's rack claim is simulated at about 15,800 tokens/s within "
        "the SLA instead of 25,150, the GB200 replica takes 2.5x the H100 node's load per GPU at the SLA instead "
        "of 3.5x, and on multi-turn chat KV-aware routing buys 1.53x instead of 2.00x and the peer-HBM tier 4.4x "
        "instead of 1.54x (a prefill costs more with the measured NVFP4 kernels, so a conversation fetched "
        "rather than recomputed saves more)."),
    "90-errata": ("chapter-errata",
        "The ledger follows the corrected models: the 405B table's model-swap cells are now marked "
        "inconsistent (they are Llama 70B figures), and datasheet values follow visible HBM, like-for-like KV "
        "caches, measured all-reduce kernels and paged KV blocks.\n\n"
        "The calibrated per-GPU ratios are now the measured-kernel step's (2.0x at batch 1, 2.4x at batch 64), "
        "the roofline's (3.0x, 3.4x) beside them; the measured 2.7-3.2x lies between."),
}


@lru_cache(maxsize=1)
def previous() -> dict[str, tuple[float, str]]:
    """The previous edition's values (SI units) and the commit they were computed at, by key."""
    import csv

    with resources.files("nvlmodel.data").joinpath("previous_edition.csv").open() as f:
        return {r["key"]: (float(r["value"]), r["commit"]) for r in csv.DictReader(f)}


def what_changed(chapter: str) -> "pd.DataFrame":  # noqa: F821
    """The quantities of ``chapter`` that a pass moved: the edition (commit) compared with, its value
    and now (both in the display unit), the change in percent, and why."""
    import pandas as pd

    require_choice("chapter", chapter, CHAPTERS)
    prev = previous()
    rows = []
    for c in CHANGES:
        if c.chapter != chapter:
            continue
        before, commit = prev[c.key]
        now = float(c.now())
        rows.append({"quantity": c.quantity, "unit": c.unit, "edition": commit, "before": before / c.scale,
                     "now": now / c.scale, "change %": (now / before - 1) * 100 if before else float("nan"),
                     "why": c.why})
    return pd.DataFrame(rows)


def what_changed_table(chapter: str) -> "pd.DataFrame":  # noqa: F821
    """:func:`what_changed` as a chapter shows it: rows grouped under their reason (the index is
    why, then the quantity), so a reason shared by many quantities is written once; a quantity
    with no value now (a ratio one of whose systems no longer meets the rate) shows "—"."""
    t = what_changed(chapter)
    for col in ("now", "change %"):
        t[col] = t[col].astype(object).where(t[col].notna(), "—")
    order = list(dict.fromkeys(t.why))  # reasons in the order of their first quantity
    t = t.assign(_order=t.why.map(order.index)).sort_values("_order", kind="stable").drop(columns="_order")
    return t.set_index(["why", "quantity"])


__all__ = ["CHANGES", "CHAPTERS", "NOTES", "Change", "previous", "what_changed", "what_changed_table"]
