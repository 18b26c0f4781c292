"""A real RTSP server for the media tests and the benchmark: GStreamer's gst-rtsp-server, run as a separate process
with the SYSTEM ``/usr/bin/python3`` (Debian's ``python3-gi`` + ``gir1.2-gst-rtsp-server-1.0``; not the venv).

It serves PRE-ENCODED H.264 / H.265 elementary streams in a loop (``multifilesrc loop=true ! h26xparse ! rtph26xpay``),
so dozens of mounts cost little CPU: nothing is encoded live. Test clips (a moving ``testsrc`` pattern with its
burned-in frame counter, known size, fps and GOP, no B-frames) are generated once with ``ffmpeg`` and cached.

From Python (the venv) use :class:`RtspServer`::

    srv = RtspServer(tmp_path, mounts={"cam1": clip("720p"), "cam2": clip("720p", codec="h265")},
                     credentials=("admin", "secret")).start()
    srv.url("cam1")          # rtsp://admin:secret@127.0.0.1:PORT/cam1
    srv.stop(); srv.start()  # the camera goes offline and comes back on the same port

Run directly (``/usr/bin/python3 tests/peers/rtsp_server.py CONFIG.json``) it is the server itself.
Note: with shared media, clients connecting in the same instant can crash GStreamer 1.22 — stagger connects.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

SYSTEM_PYTHON = "/usr/bin/python3"
CACHE_DIR = Path(os.environ.get("ECS_MEDIA_CLIP_CACHE", "/tmp/ecs-media-clips"))
RESOLUTIONS = {"1080p": (1920, 1080), "720p": (1280, 720), "360p": (640, 360)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gst_available() -> bool:
    """True when the system python has GStreamer's RTSP server bindings and ffmpeg is installed."""
    if not Path(SYSTEM_PYTHON).exists() or not Path("/usr/bin/ffmpeg").exists():
        return False
    probe = ("import gi; gi.require_version('Gst','1.0'); gi.require_version('GstRtspServer','1.0');"
             "from gi.repository import Gst, GstRtspServer")
    return subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True).returncode == 0


@dataclass(frozen=True)
class Clip:
    path: Path
    codec: str  # "h264" | "h265"
    width: int
    height: int
    fps: int
    gop: int
    bitrate: str


def clip(resolution: str = "720p", *, codec: str = "h264", fps: int = 25, gop: int = 50, bitrate: str | None = None,
         seconds: int = 10, cache_dir: Path = CACHE_DIR) -> Clip:
    """A pre-encoded elementary stream (Annex B), generated once and cached. CBR (filler data) so the benchmark's
    bitrate is the one asked for; a little temporal noise so the content is not trivially compressible."""
    width, height = RESOLUTIONS[resolution]
    bitrate = bitrate or {"1080p": "4M", "720p": "2M", "360p": "800k"}[resolution]
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"{codec}-{resolution}-{fps}fps-g{gop}-{bitrate}-{seconds}s.{codec}"
    if not path.exists():
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        vf = f"testsrc=size={width}x{height}:rate={fps},noise=alls=10:allf=t,format=yuv420p"
        if codec == "h264":
            enc = ["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-bf", "0",
                   "-x264-params", "nal-hrd=cbr:force-cfr=1", "-f", "h264"]
        else:
            enc = ["-c:v", "libx265", "-preset", "ultrafast",
                   "-x265-params", "bframes=0:log-level=error:repeat-headers=1", "-f", "hevc"]
        cmd = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", vf, "-t", str(seconds), *enc[:-2],
               "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
               "-b:v", bitrate, "-maxrate", bitrate, "-bufsize", bitrate, *enc[-2:], str(tmp)]
        subprocess.run(cmd, check=True)
        tmp.rename(path)
    return Clip(path, codec, width, height, fps, gop, bitrate)


class RtspServer:
    """Controls the RTSP server subprocess. ``mounts`` maps a mount name (``cam1``) to a :class:`Clip`;
    ``audio_only`` adds mounts that carry only G.711 audio (a stream with no video)."""

    def __init__(self, work_dir: Path, mounts: dict[str, Clip], *, port: int | None = None,
                 credentials: tuple[str, str] | None = None, audio_only: tuple[str, ...] = (),
                 shared: bool = True) -> None:
        self.work_dir = work_dir
        self.mounts = mounts
        self.port = port or free_port()
        self.credentials = credentials
        self.audio_only = audio_only
        self.shared = shared
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = work_dir / f"rtsp-{self.port}.log"

    def url(self, mount: str, *, with_credentials: bool = True, host: str = "127.0.0.1") -> str:
        auth = ""
        if with_credentials and self.credentials:
            auth = f"{self.credentials[0]}:{self.credentials[1]}@"
        return f"rtsp://{auth}{host}:{self.port}/{mount}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self, timeout_s: float = 20.0) -> RtspServer:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        cfg = {
            "port": self.port,
            "credentials": list(self.credentials) if self.credentials else None,
            "shared": self.shared,
            "mounts": [{"name": n, "path": str(c.path), "codec": c.codec, "fps": c.fps}
                       for n, c in self.mounts.items()],
            "audio_only": list(self.audio_only),
        }
        cfg_path = self.work_dir / f"rtsp-{self.port}.json"
        cfg_path.write_text(json.dumps(cfg))
        log = open(self.log_path, "ab")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
        self.proc = subprocess.Popen([SYSTEM_PYTHON, __file__, str(cfg_path)], stdout=log, stderr=subprocess.STDOUT,
                                     env=env, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log_path.read_text()[-2000:]
                raise RuntimeError(f"rtsp server exited with {self.proc.returncode}: {tail}")
            if "READY" in self.log_path.read_text(errors="replace"):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"rtsp server did not become ready: {self.log_path.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def __enter__(self) -> RtspServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------------------------------------------------------------
# The server itself (system python + GObject introspection)


def _serve(cfg_path: str) -> None:  # pragma: no cover - runs in the subprocess
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    Gst.init(None)
    cfg = json.loads(Path(cfg_path).read_text())
    server = GstRtspServer.RTSPServer()
    server.set_address("0.0.0.0")
    server.set_service(str(cfg["port"]))
    mounts = server.get_mount_points()
    role = None
    if cfg.get("credentials"):
        user, password = cfg["credentials"]
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "user")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
        server.set_auth(auth)
        role = Gst.Structure.new_from_string(
            "user, media.factory.access=(boolean)true, media.factory.construct=(boolean)true")

    def stamp(pad: object, info: object, state: dict) -> object:
        # The elementary stream has no timestamps; h26xparse outputs one access unit per buffer, so stamp them at
        # the nominal frame rate, continuing across loops of the file (no B-frames: PTS = DTS).
        buf = info.get_buffer()
        buf.pts = buf.dts = state["n"] * state["dur"]
        buf.duration = state["dur"]
        state["n"] += 1
        return Gst.PadProbeReturn.OK

    def on_configure(_factory: object, media: object, fps: int) -> None:
        parse = media.get_element().get_by_name("parse")
        if parse is not None:
            state = {"n": 0, "dur": Gst.SECOND // fps}
            parse.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, stamp, state)

    def add(name: str, launch: str, fps: int = 0) -> None:
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch)
        if fps:
            factory.connect("media-configure", on_configure, fps)
        factory.set_shared(bool(cfg.get("shared", True)))
        if role is not None:
            factory.add_role_from_structure(role)
        mounts.add_factory("/" + name, factory)

    for m in cfg["mounts"]:
        kind = m["codec"]
        caps = f"video/x-{kind},stream-format=byte-stream,framerate={m['fps']}/1"
        add(m["name"], f"( multifilesrc location={m['path']} loop=true caps=\"{caps}\" ! {kind}parse name=parse ! "
                       f"rtp{kind}pay name=pay0 pt=96 config-interval=-1 )", m["fps"])
    for name in cfg.get("audio_only", []):
        add(name, "( audiotestsrc is-live=true wave=sine ! audio/x-raw,rate=8000,channels=1 ! alawenc ! "
                  "rtppcmapay name=pay0 pt=8 )")

    server.attach(None)
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    print("READY", flush=True)
    loop.run()


if __name__ == "__main__":  # pragma: no cover
    _serve(sys.argv[1])
