"""Running the ``gnnnas`` command in-process and checking its one-line errors (shared by the CLI tests)."""

from __future__ import annotations

from gnnnas.cli import main


def run(capsys, *argv):
    """``gnnnas ARGV`` in this process: (exit code, stdout, stderr) of this call only."""
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *fragments):
    """Exit code 2 and one ``gnnnas: error:`` line on stderr holding every fragment, no traceback."""
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("gnnnas: error:")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
