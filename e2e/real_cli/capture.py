"""Re-capture the plugins' replay transcripts from the real CLIs (run when a pin moves).

``CLAWBOO_CAPTURE_DIR=<dir> ./scripts/test-real-clis`` puts a recording wrapper in front of
each real CLI: the wrapper runs the real binary with the same argv, environment and stdin,
passes its output through line by line (the plugin parses it live), and for every run whose
prompt names a scenario (``SCENARIO:<name>``) writes, in the format of
``clawboo_host/testing/transcripts/`` (see its README)::

    <cli>-<scenario>.stdout.jsonl|txt   <cli>-<scenario>.stderr.txt   <cli>-<scenario>.meta.json

with temporary paths and ports replaced by placeholders (``<CWD>``, ``<HOME>``,
``127.0.0.1:<PROVIDER_PORT>`` for any loopback port, the task id by ``T-42``). Review the
diff, then copy the files into ``clawboo_host/testing/transcripts/`` and run the plugins'
suites.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

#: The wrapper: stdlib only, runs under the interpreter that runs the tests.
WRAPPER = r'''
import json, os, re, subprocess, sys, threading, time
REAL, CLI, OUT, JSONL = __REAL__, __CLI__, __OUT__, __JSONL__
argv = sys.argv[1:]
found = re.search(r"SCENARIO:([a-z0-9]+)", " ".join(argv))
if not found:
    os.execv(REAL, [REAL, *argv])
scenario = found.group(1)
started = time.monotonic()
proc = subprocess.Popen([REAL, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
lines = {"stdout": [], "stderr": []}

def pump(name, src, dst):
    for raw in iter(src.readline, b""):
        dst.buffer.write(raw)
        dst.flush()
        lines[name].append(raw.decode("utf-8", "replace").rstrip("\n"))

threads = [threading.Thread(target=pump, args=("stdout", proc.stdout, sys.stdout)),
           threading.Thread(target=pump, args=("stderr", proc.stderr, sys.stderr))]
for t in threads:
    t.start()
code = proc.wait()
for t in threads:
    t.join()

subst = {}
task = re.search(r"TASK:([A-Za-z0-9_-]+)", " ".join(argv))
if task:
    subst[task.group(1)] = "T-42"  # the fakes' task placeholder
for value, placeholder in ((os.getcwd(), "<CWD>"), (os.environ.get("HOME", ""), "<HOME>"),
                           (os.environ.get("CODEX_HOME", ""), "<CODEX_HOME>"),
                           (os.environ.get("HERMES_HOME", ""), "<HERMES_HOME>")):
    if value and len(value) > 1:
        subst[value] = placeholder
def clean(text):
    for value in sorted(subst, key=len, reverse=True):
        text = text.replace(value, subst[value])
    return re.sub(r"127\.0\.0\.1:\d{2,5}", "127.0.0.1:<PROVIDER_PORT>", text)

name = f"{CLI}-{scenario}"
suffix = "jsonl" if JSONL else "txt"
with open(os.path.join(OUT, f"{name}.stdout.{suffix}"), "w", encoding="utf-8") as fh:
    fh.writelines(clean(line) + "\n" for line in lines["stdout"])
with open(os.path.join(OUT, f"{name}.stderr.txt"), "w", encoding="utf-8") as fh:
    fh.writelines(clean(line) + "\n" for line in lines["stderr"])
version = subprocess.run([REAL, "--version"], capture_output=True, text=True).stdout.strip()
meta = {"cli": CLI, "scenario": scenario, "exit_code": code,
        "seconds": round(time.monotonic() - started, 1),
        "argv": [CLI, *[clean(a) for a in argv]], "version": version,
        "captured_by": "e2e/real_cli/capture.py"}
with open(os.path.join(OUT, f"{name}.meta.json"), "w", encoding="utf-8") as fh:
    json.dump(meta, fh, indent=2)
sys.exit(code)
'''

#: Stdout of these CLIs is JSON lines; the others print text.
JSONL_CLIS = {"claude", "codex", "gemini"}


def wrap(cli_bin: Path, out_dir: Path, wrapper_dir: Path) -> Path:
    """A bin dir whose every CLI is a recording wrapper around the one in ``cli_bin``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    wrapper_dir.mkdir(parents=True, exist_ok=True)
    for link in sorted(cli_bin.iterdir()):
        script = (
            WRAPPER.replace("__REAL__", json.dumps(str(link.resolve())))
            .replace("__CLI__", json.dumps(link.name))
            .replace("__OUT__", json.dumps(str(out_dir.resolve())))
            .replace("__JSONL__", "True" if link.name in JSONL_CLIS else "False")
        )
        target = wrapper_dir / link.name
        target.write_text(f"#!{sys.executable}\n{script}")
        target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return wrapper_dir


def capture_dir() -> Path | None:
    value = os.environ.get("CLAWBOO_CAPTURE_DIR")
    return Path(value) if value else None
