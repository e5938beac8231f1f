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
                                  ["spec", "--gpu", "b200", "--preset", "marketing"], []])
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
    with pytest.raises(SystemExit) as e:
        main(["roofline", "--gpu", "h100", "--format", "nvfp4"])
    assert e.value.code == 2
    assert "H100 SXM has no fp4 tensor cores; it supports: fp16, bf16, fp8" in capsys.readouterr().err


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
