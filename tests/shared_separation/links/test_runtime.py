"""The JavaScript runtime for YouTube's challenges: ours by path, sandboxed, solving offline.

Everything runs for real: the deno binary from the `deno` package, started by yt-dlp's own
DenoJCP provider, with the solver from yt-dlp-ejs. A local TCP canary stands for the network
(it counts raw connections, so proxied CONNECTs and WebSockets count too, which tests/httpsite.py's
Site, counting only GET and HEAD, would miss).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sysconfig
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yt_dlp
from yt_dlp.extractor.youtube.jsc._builtin.ejs import EJSBaseJCP, ScriptSource
from yt_dlp.extractor.youtube.jsc.provider import (
    JsChallengeRequest,
    JsChallengeType,
    NChallengeInput,
    SigChallengeInput,
)

from shared_separation.links import fetch, runtime

SECRET = "stemsplit-canary-secret-7f3a"
PLAYER_URL = "https://www.youtube.com/s/player/0123abcd/player_ias.vflset/en_US/base.js"

# The smallest player the solver recognises: an IIFE holding the function that builds the URL
# object (known by its `X.y("alr", "yes")` call) whose prototype method rewrites n and s.
# TRANSFORM is the body of that method.
PLAYER = """
(function(g){
var T = {a: function(){}};
function Url(u){ this.p = {}; }
Url.prototype.set = function(k, v){ this.p[k] = v; };
Url.prototype.get = function(k){ return this.p[k]; };
Url.prototype.clone = function(){ return this; };
Url.prototype.fix = function(){ TRANSFORM };
var make = function(u, sp, sig) {
  var o = new Url(u);
  T.a("alr", "yes");
  if (sig) o.set(sp, sig);
  return o;
};
}).call(this);
"""
REVERSE_N_DROP_TWO_S = """
  if (this.p.n) this.p.n = this.p.n.split("").reverse().join("");
  if (this.p.s) this.p.s = this.p.s.slice(2);
"""


class Canary:
    """A local TCP server that records every connection made to it."""

    def __init__(self) -> None:
        self.hits: list[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    self.hits.append(conn.recv(4096))
                    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
                except OSError:
                    self.hits.append(b"")

    def close(self) -> None:
        self.sock.close()


class _Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def debug(self, msg: str) -> None:
        self.lines.append(msg)

    info = warning = error = debug


@pytest.fixture
def canary() -> Iterator[Canary]:
    site = Canary()
    yield site
    site.close()


def _fetch_options() -> dict[str, Any]:
    """Return the runtime's part of the options the link fetcher really gives yt-dlp."""
    req = {"allow_generic": False, "socket_timeout": 5.0, "max_bytes": 1_000_000}
    options = fetch._options(
        req, Path("/nonexistent"), lambda progress: None, fetch._Log(), fetch._Formats(), Path()
    )
    return {key: options[key] for key in ("js_runtimes", "remote_components")}


def _youtube(canary: Canary, log: _Log, **extra: Any) -> tuple[yt_dlp.YoutubeDL, Any]:
    """Return yt-dlp with our options and its YouTube extractor, every download to the canary."""
    # The proxy also goes into deno's environment (HTTP_PROXY, HTTPS_PROXY): whatever deno or
    # yt-dlp might fetch would reach the canary.
    params = {
        **_fetch_options(),
        "proxy": canary.url,
        "cachedir": False,
        "logger": log,
        "verbose": True,
        **extra,
    }
    ydl = yt_dlp.YoutubeDL(params)
    ie = ydl.get_info_extractor("Youtube")
    ie.initialize()
    return ydl, ie


def _deno_provider(ie: Any) -> EJSBaseJCP:
    (provider,) = [p for p in ie._jsc_director.providers.values() if p.PROVIDER_NAME == "deno"]
    assert isinstance(provider, EJSBaseJCP)
    return provider


def _solve(ie: Any, player: str) -> tuple[str, str]:
    """Solve one n and one sig challenge through yt-dlp's director, the player given in memory."""
    ie._code_cache[ie._player_js_cache_key(PLAYER_URL)] = player  # yt-dlp's own player cache
    sig_challenge = "".join(map(chr, range(65, 75)))
    answers = ie._jsc_director.bulk_solve(
        [
            JsChallengeRequest(JsChallengeType.N, NChallengeInput(PLAYER_URL, ["abcdef"]), "vid"),
            JsChallengeRequest(
                JsChallengeType.SIG, SigChallengeInput(PLAYER_URL, [sig_challenge]), "vid"
            ),
        ]
    )
    results = {resp.type: resp.output.results for _, resp in answers}
    return results[JsChallengeType.N]["abcdef"], results[JsChallengeType.SIG][sig_challenge]


def test_the_runtime_is_the_deno_binary_the_deno_package_ships() -> None:
    import deno

    path = runtime.deno_path()
    assert path is not None
    assert path == Path(deno.find_deno_bin()).resolve()
    assert os.access(path, os.X_OK)
    assert _fetch_options() == {
        "js_runtimes": {"deno": {"path": str(path)}},
        "remote_components": [],
    }
    state = runtime.status()
    assert state.problems == []
    assert state.deno_path == path
    assert state.deno_version is not None
    assert re.fullmatch(r"\d+\.\d+\.\d+", state.deno_version)
    assert state.ytdlp_version == yt_dlp.version.__version__
    import yt_dlp_ejs

    assert state.ejs_version == yt_dlp_ejs.version


def test_yt_dlp_never_runs_a_deno_found_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, canary: Canary
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    marker = tmp_path / "path-deno-ran"
    fake = bin_dir / "deno"
    fake.write_text(f'#!/bin/sh\necho ran >> "{marker}"\necho "deno 9.9.9"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    # yt-dlp's own search looks in Python's scripts folder first (our venv's deno) and only
    # then on PATH; hide that folder so that the control below reaches PATH.
    real_get_path = sysconfig.get_path
    empty = tmp_path / "no-scripts"
    empty.mkdir()

    def get_path(name: str, *args: Any, **kwargs: Any) -> str:
        return (
            str(empty)
            if name == "scripts" and not args and not kwargs
            else real_get_path(name, *args, **kwargs)
        )

    ours = runtime.deno_path()
    monkeypatch.setattr(sysconfig, "get_path", get_path)

    # Control: left to itself, yt-dlp takes the deno on PATH.
    with yt_dlp.YoutubeDL({"quiet": True, "cachedir": False}) as ydl:
        info = ydl._js_runtimes["deno"].info
    assert info is not None and info.version == "9.9.9"
    assert marker.exists()
    marker.unlink()

    log = _Log()
    ydl, ie = _youtube(canary, log)
    with ydl:
        info = ydl._js_runtimes["deno"].info
        assert info is not None and info.path == str(ours) and info.version != "9.9.9"
        assert _deno_provider(ie).is_available()
    assert not marker.exists()

    # Without our deno, JavaScript is off: still no search on PATH.
    monkeypatch.setattr(runtime, "deno_path", lambda: None)
    assert _fetch_options()["js_runtimes"] == {}
    ydl, ie = _youtube(canary, log)
    with ydl:
        assert ydl._js_runtimes == {}
        assert not any(p.is_available() for p in ie._jsc_director.providers.values())
    assert not marker.exists()
    assert canary.hits == []


def test_yt_dlp_with_our_options_has_deno_and_the_ejs_solver(canary: Canary) -> None:
    import yt_dlp_ejs

    ydl, ie = _youtube(canary, _Log())
    with ydl:
        available = [
            p.PROVIDER_NAME for p in ie._jsc_director.providers.values() if p.is_available()
        ]
        assert available == ["deno"]
        provider = _deno_provider(ie)
        assert isinstance(provider, EJSBaseJCP)
        for script in (provider._lib_script, provider._core_script):
            assert script.source is ScriptSource.PYPACKAGE
            assert script.version == yt_dlp_ejs.version
    assert canary.hits == []


def test_the_solver_solves_a_player_offline(canary: Canary) -> None:
    log = _Log()
    ydl, ie = _youtube(canary, log)
    with ydl:
        n, sig = _solve(ie, PLAYER.replace("TRANSFORM", REVERSE_N_DROP_TWO_S))
    assert n == "fedcba"
    assert sig == "CDEFGHIJ"
    assert any("Solving JS challenges using deno" in line for line in log.lines)
    assert canary.hits == []  # no player, solver or npm package was downloaded


PROBE = """
const results = {};
async function attempt(name, action) {
  try {
    results[name] = "allowed: " + String(await action());
  } catch (error) {
    results[name] = "refused: " + (error && error.name);
  }
}
const where = JSON.parse(WHERE);
await attempt("fetch", () => fetch(where.url).then((r) => r.text()));
await attempt("connect", async () => {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: where.port });
  await conn.write(new TextEncoder().encode("GET /connect HTTP/1.0\\r\\n\\r\\n"));
  conn.close();
  return "connected";
});
await attempt("websocket", () => new Promise((resolve, reject) => {
  const ws = new WebSocket(where.url.replace("http", "ws"));
  ws.onopen = () => resolve("open");
  ws.onerror = () => reject(new Error("no handshake"));
}));
await attempt("read", () => Deno.readTextFile(where.secret));
await attempt("fetch_file", () => fetch("file://" + where.secret).then((r) => r.text()));
// A computed specifier, as code inside the player would have (it runs through Function()).
await attempt("import", () => import(["file://", where.module].join("")).then((m) => m.default));
await attempt("env", () => Deno.env.get("STEMSPLIT_TEST_SECRET"));
await attempt("run", () => new Deno.Command("cat", { args: [where.secret] }).output()
  .then((out) => new TextDecoder().decode(out.stdout)));
await attempt("write", () => Deno.writeTextFile(where.written, "x"));
console.log(JSON.stringify(results));
"""


def _probe(tmp_path: Path, canary: Canary) -> tuple[str, dict[str, str]]:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    module = tmp_path / "secret.js"
    module.write_text(f"export default {json.dumps(SECRET)};\n")
    where = {
        "url": canary.url,
        "port": canary.port,
        "secret": str(secret),
        "module": str(module),
        "written": str(tmp_path / "written.txt"),
    }
    return PROBE.replace("WHERE", json.dumps(json.dumps(where))), where


def test_deno_as_yt_dlp_starts_it_has_no_network_and_no_files(
    tmp_path: Path, canary: Canary, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STEMSPLIT_TEST_SECRET", SECRET)  # yt-dlp passes its environment on
    script, where = _probe(tmp_path, canary)
    log = _Log()
    ydl, ie = _youtube(canary, log)
    with ydl:
        # yt-dlp's own code builds the command line and runs it (DenoJCP._run_js_runtime).
        out = _deno_provider(ie)._run_js_runtime(script)
    results = json.loads(out)
    assert set(results) == {
        "fetch",
        "connect",
        "websocket",
        "read",
        "fetch_file",
        "import",
        "env",
        "run",
        "write",
    }
    assert all(value.startswith("refused: ") for value in results.values()), results
    assert SECRET not in out
    assert canary.hits == []
    assert not Path(where["written"]).exists()
    # The command line that gave this: no --allow-* flag at all.
    (command,) = [line for line in log.lines if "Running deno:" in line]
    flags = command.split("Running deno: ", 1)[1].split()[1:]
    assert flags == [
        "run",
        "--ext=js",
        "--no-code-cache",
        "--no-prompt",
        "--no-remote",
        "--no-lock",
        "--node-modules-dir=none",
        "--no-config",
        "--no-npm",
        "--cached-only",
        "-",
    ]


def test_control_the_probe_gets_through_when_deno_is_let(tmp_path: Path, canary: Canary) -> None:
    with socket.create_connection(("127.0.0.1", canary.port), timeout=5) as conn:
        conn.sendall(b"GET /from-the-test HTTP/1.0\r\n\r\n")
        assert conn.recv(100).startswith(b"HTTP/1.0 200")
    assert len(canary.hits) == 1

    script, where = _probe(tmp_path, canary)
    path = runtime.deno_path()
    assert path is not None
    done = subprocess.run(
        [str(path), "run", "--allow-all", "--no-prompt", "-"],
        input=script,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**os.environ, "STEMSPLIT_TEST_SECRET": SECRET},
    )
    results = json.loads(done.stdout)
    assert results["fetch"] == "allowed: ok"
    assert results["connect"] == "allowed: connected"
    for name in ("read", "fetch_file", "import", "env", "run"):
        assert results[name] == f"allowed: {SECRET}", name
    assert Path(where["written"]).exists()
    assert len(canary.hits) >= 4  # the test's, fetch, connect and the WebSocket handshake


def test_a_hostile_player_reads_nothing_while_it_is_solved(tmp_path: Path, canary: Canary) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    # The player's own code tries to read a file and reach the canary while it computes n.
    transform = f"""
  var got = "";
  try {{ got = Deno.readTextFileSync({json.dumps(str(secret))}); }}
  catch (e) {{ got = e.name; }}
  fetch({json.dumps(canary.url)}).catch(function(){{}});
  if (this.p.n) this.p.n = this.p.n.split("").reverse().join("") + "-" + got;
  if (this.p.s) this.p.s = this.p.s.slice(2);
"""
    ydl, ie = _youtube(canary, _Log())
    with ydl:
        n, sig = _solve(ie, PLAYER.replace("TRANSFORM", transform))
    assert n == "fedcba-NotCapable"
    assert sig == "CDEFGHIJ"
    assert canary.hits == []
