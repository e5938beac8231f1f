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
    assert "0 reproduced" in capsys.readouterr().out


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
