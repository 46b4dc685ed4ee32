"""Progress lines for logs: when stderr is not a terminal, one line every interval with steps, elapsed, ETA."""
import io

from restore.cli.progress import Progress, mode


def test_log_lines_every_interval_with_eta():
    now = [0.0]
    out = io.StringIO()
    p = Progress(10, "deblur (diffpir)", "log", interval=5.0, stream=out, clock=lambda: now[0])
    for _ in range(10):
        now[0] += 2.0  # 2 s a step
        p.callback()
    lines = out.getvalue().splitlines()
    assert len(lines) == 3  # at 6, 12 and 18 s (every 5 s at most)
    assert lines[0] == "deblur (diffpir): 3/10 steps (30 %), 0:06 elapsed, ETA 0:14"
    assert lines[-1].startswith("deblur (diffpir): 9/10 steps (90 %), 0:18 elapsed, ETA 0:02")


def test_modes():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    assert mode(True) is None
    assert mode(False, Tty()) == "bar" and mode(False, io.StringIO()) == "log"
    out = io.StringIO()
    p = Progress(5, "x", None, stream=out, interval=0.0)
    p.callback()
    assert out.getvalue() == ""  # quiet: nothing


def test_interval_from_the_environment(monkeypatch):
    from restore.cli.progress import LOG_INTERVAL, log_interval
    monkeypatch.setenv("RESTORE_PROGRESS_SECONDS", "0.5")
    assert log_interval() == 0.5 and Progress(3, "x", "log", stream=io.StringIO()).interval == 0.5
    monkeypatch.setenv("RESTORE_PROGRESS_SECONDS", "soon")
    assert log_interval() == LOG_INTERVAL
