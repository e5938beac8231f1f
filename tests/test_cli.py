import json
import subprocess
import sys

import pytest

from nvlmodel.claims import all_claims
from nvlmodel.cli import main


def test_claims_json_via_python_m():
    out = subprocess.run([sys.executable, "-m", "nvlmodel", "claims", "--json"], check=True,
                         capture_output=True, text=True).stdout
    data = json.loads(out)
    assert len(data) == len(all_claims())
    assert {d["status"] for d in data} <= {"reproduced", "inconsistent", "not-derivable"}


def test_claims_markdown_and_filters(capsys):
    assert main(["claims", "--markdown", "--section", "nvl72"]) == 0
    out = capsys.readouterr().out
    assert "nvl72.total-hbm-tb" in out and "spec.ratio" not in out
    assert main(["claims", "--status", "inconsistent"]) == 0
    assert "0 holds, 0 false premise" in capsys.readouterr().out
    assert main(["claims", "--verdict", "hypothetical", "--json"]) == 0
    assert {c["verdict"] for c in json.loads(capsys.readouterr().out)} == {"hypothetical"}


def test_spec(capsys):
    assert main(["spec", "--gpu", "b200", "--preset", "seed"]) == 0
    out = capsys.readouterr().out
    assert "B200 (HGX) (seed preset)" in out and "18,000" in out


@pytest.mark.parametrize("argv", [["spec", "--gpu", "a100"], ["claims", "--section", "appendix"],
                                  ["spec", "--gpu", "b200", "--preset", "marketing"], [],
                                  ["calibrate", "--ttft-from", "simulation", "--protocol", "genai-perf"]])
def test_bad_arguments_exit_2_with_choices(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice" in err or "required" in err


def test_roofline_capacity_endtoend_allreduce(capsys):
    assert main(["roofline", "--gpu", "b200", "--model", "llama-3.1-70b", "--format", "nvfp4", "--batch", "1"]) == 0
    out = capsys.readouterr().out
    # batch 1, context 4096: (39.69 GB of NVFP4 weights + 4096 x 163,840 B of FP8 KV) / 8 TB/s = 5.0 ms
    assert "4.971" in out and "never turns compute-bound" in out
    assert main(["capacity", "--preset", "seed"]) == 0
    assert "26.38" in capsys.readouterr().out  # 80 - 405/8 - 3 GB
    assert main(["endtoend"]) == 0
    assert "Model swap time (ModelExpress)" in capsys.readouterr().out
    assert main(["allreduce", "--tp", "8"]) == 0
    assert "H100 NCCL (measured)" in capsys.readouterr().out


def test_bad_combination_is_a_clear_error(capsys):
    assert main(["roofline", "--gpu", "h100", "--format", "nvfp4"]) == 2
    err = capsys.readouterr().err
    assert "H100 SXM has no fp4 tensor cores; it supports: fp16, bf16, fp8" in err and len(err.splitlines()) == 1


def test_help_explains_each_option(capsys):
    with pytest.raises(SystemExit):
        main(["roofline", "--help"])
    out = capsys.readouterr().out
    for option in ("--gpu", "--model", "--format", "--preset", "--batch", "--context", "--kv-bytes", "--tp"):
        assert option in out


def test_best_on_h200_with_either_step(capsys):
    """H200 HGX is searchable, and the step model is a choice the output names per point."""
    assert main(["best", "--model", "qwen3-32b", "--systems", "h200_sxm", "--max-gpus", "8", "--step", "kernels"]) == 0
    out = capsys.readouterr().out
    assert "H200 HGX" in out and "kernels" in out and "extrapolated" in out
    assert main(["best", "--model", "deepseek-r1", "--systems", "h100_sxm", "--max-gpus", "8"]) == 1
    assert "no deployment fits in memory" in capsys.readouterr().out


@pytest.mark.parametrize("argv, says", [
    (["serve", "--rate", "0"], "--rate must be a finite number > 0"),
    (["serve", "--rate", "5", "--concurrency", "4"], "not both"),
    (["serve", "--workers", "3"], "--dask-workers runs a sweep"),
    (["serve", "--dask-workers", "3"], "--dask-workers runs a sweep"),
    (["serve", "--scheduler", "tcp://127.0.0.1:1"], "--scheduler runs a sweep"),
    (["serve", "--sweep", ""], "cannot read ''"),
    (["serve", "--sweep", "/dev/zero"], "is not a regular file"),
    (["serve", "--requests", "1000000000"], "at most 2,000,000"),
    (["serve", "--requests", "20", "--isl", "100000000"], "exceeds Llama 3.1 70B's maximum context"),
    (["serve", "--out", "/nonexistent/x.csv"], "does not exist"),
    (["serve", "--out", "/tmp"], "is a folder"),
    (["serve", "--out", "/dev/full"], "is not a regular file"),
    (["endtoend", "--context", "99999999999"], "--context = 99,999,999,999 tokens exceeds"),
    (["roofline", "--gpu", "b200", "--kv-bytes", "1e308"], "--kv-bytes is bytes per KV element"),
    (["roofline", "--gpu", "b200", "--context", "200000"], "exceeds Llama 3.1 70B's maximum context"),
    (["best", "--model", "qwen3-32b", "--ttft-ms", "nan"], "--ttft-ms must be a finite number"),
    (["best", "--model", "qwen3-32b", "--systems", "gb200", "gb200"], "each system once"),
    (["calibrate", "--ttft-from", "simulation", "--workers", "0"], "--dask-workers must be a finite number > 0"),
    # options only the simulated reports read are refused without one, never silently dropped
    (["calibrate", "--protocol", "aiperf"], "--protocol sets how the simulation replays the rows"),
    (["calibrate", "--coverage", "--dask-workers", "1"], "--dask-workers sets how the simulation replays the rows"),
    (["calibrate", "--anchored", "--all-rows"], "--anchored counts only rows the model describes"),
    (["calibrate", "--by", "system", "system"], "--by: name each column once"),
])
def test_bad_input_is_one_line_and_exit_2_before_any_work(argv, says, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_sweep_keeps_good_rows_and_names_bad_ones(tmp_path, capsys):
    """A sweep with a good row and two bad ones: the good row's result is written (atomically), each
    bad row is named on stderr by line and field and carries its status, and the exit is 2."""
    csv_path, out = tmp_path / "s.csv", tmp_path / "out.csv"
    csv_path.write_text("system,model,precision,tp,isl,osl,rate,requests\n"
                        "gb200,llama-3.1-8b,fp4,1,256,16,4,10\n"
                        "gb200,llama-3.1-8b,fp4,8.7,256,16,4,10\n"
                        "gb200,llama-3.1-8b,fp4,1,256,16,fast,10\n")
    out.write_text("previous")
    assert main(["serve", "--sweep", str(csv_path), "--out", str(out), "--quiet", "--workers", "1"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].endswith("line 3: invalid: tp must be an integer, got '8.7'")
    assert err[1].endswith("line 4: invalid: rate must be a number, got 'fast'") and len(err) == 2
    import pandas as pd

    table = pd.read_csv(out)
    assert table.status.tolist()[0] == "ok" and table.line.tolist() == [2, 3, 4]
    assert table.output_tokens_per_s[0] > 0


def test_results_are_written_atomically(tmp_path, monkeypatch):
    """A failing write leaves the previous file whole and no temporary file behind."""
    import pandas as pd

    from nvlmodel import cli

    out = tmp_path / "r.csv"
    out.write_text("previous")

    class Boom(pd.DataFrame):
        def to_csv(self, *a, **k):
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        cli._write_atomic(Boom({"a": [1]}), str(out))
    assert out.read_text() == "previous" and [p.name for p in tmp_path.iterdir()] == ["r.csv"]
    cli._write_atomic(pd.DataFrame({"a": [1]}), str(out))
    assert out.read_text().splitlines() == ["a", "1"]


def test_ctrl_c_exits_130_without_traceback(monkeypatch, capsys):
    from nvlmodel import cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_claims", interrupted)
    assert main(["claims"]) == 130
    assert "interrupted" in capsys.readouterr().err


def test_best_names_the_redundant_experts_a_rack_wide_worker_holds(monkeypatch, capsys):
    """A frontier with DeepSeek expert-parallel over 72 GPUs says that worker holds 32 redundant experts
    (256 experts do not split 72 ways); one without such a worker says nothing of it."""
    from nvlmodel import search

    real = search.best

    def rack_wide(model, isl, osl, sla, **kw):
        front = real(model, isl, osl, sla, **kw)
        allc = search.search(model, isl, osl, sla, **kw)
        out = allc[allc.decode_shape == (1, 72, 72)].head(1)[front.columns]
        out.attrs.update(front.attrs)
        return out

    assert main(["best", "--model", "deepseek-r1", "--systems", "gb200", "--tpot-ms", "200"]) == 0
    assert "redundant experts" not in capsys.readouterr().out
    monkeypatch.setattr(search, "best", rack_wide)
    assert main(["best", "--model", "deepseek-r1", "--systems", "gb200", "--tpot-ms", "200"]) == 0
    assert "hold redundant experts (load-balancing replicas, search.redundant_experts_for): EP72: 32" in capsys.readouterr().out


def test_calibrate_restates_the_headline_with_the_step_it_was_asked_for(capsys):
    from nvlmodel import calibrate

    for step in calibrate.STEP_MODELS:
        assert main(["calibrate", "--tables", "dense", "--step", step]) == 0
        out = capsys.readouterr().out
        ratio = calibrate.headline(calibrations=calibrate.fitted(step)).calibrated_ratio.iloc[0]
        assert f"steps from the {step}" in out.split("B200 FP4 over H100 FP8")[1]
        assert f"{ratio:.3f}"[:-1] in out.split("B200 FP4 over H100 FP8")[1]  # printed to four figures
    # the two steps' batch-1 ratios differ (3.05 and 1.98), so the line cannot pass by printing one of them twice
    r, k = (calibrate.headline(calibrations=calibrate.fitted(s)).calibrated_ratio.iloc[0] for s in calibrate.STEP_MODELS)
    assert abs(r - k) > 0.5
