"""Cameras with real media (COM-1/3/7): the in-process media gateway against a real RTSP server (GStreamer,
``tests/peers/rtsp_server.py``) and a real WebRTC client (aiortc), on both databases.

Connection tests with clear errors, a snapshot stored as an attachment, a WHEP-style live view that delivers
frames, ``camera.offline``/``camera.online`` events when the camera goes away and comes back, emergency
recordings that appear in the index (with download, clip export and playback).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from command_server.cameras.service import jpeg_size
from tests.conftest import Api, AuthedApi, start_api
from tests.peers import rtsp_server as peer
from tests.realtime_client import Listener

try:
    importlib.import_module("media_gateway.gateway")
    importlib.import_module("aiortc")
    _NO_GATEWAY = ""
except Exception as exc:  # the media gateway is another module's work; these tests wait for it
    _NO_GATEWAY = f"media_gateway (or aiortc/PyAV) is not importable: {exc}"

pytestmark = [
    pytest.mark.skipif(bool(_NO_GATEWAY), reason=_NO_GATEWAY or "-"),
    pytest.mark.skipif(not _NO_GATEWAY and not peer.gst_available(),
                       reason="no GStreamer RTSP server (python3-gi, gir1.2-gst-rtsp-server-1.0) or no ffmpeg"),
    pytest.mark.slow,
]

USER, PASSWORD = "admin", "Cam-secret-42"
STALL_S = 2.0


@pytest.fixture(scope="module")
def rtsp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[peer.RtspServer]:
    srv = peer.RtspServer(tmp_path_factory.mktemp("rtsp"),
                          mounts={"cam1": peer.clip("360p"), "cam2": peer.clip("360p")},
                          credentials=(USER, PASSWORD), audio_only=("audio",)).start()
    yield srv
    srv.stop()


@pytest.fixture
async def api(settings_factory, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Api]:  # type: ignore[no-untyped-def]
    """The app with the media gateway tuned for tests: quick stall detection, short segments, no sweeps."""
    monkeypatch.setenv("ECS_MEDIA_STALL_TIMEOUT_S", str(STALL_S))
    monkeypatch.setenv("ECS_MEDIA_IDLE_TIMEOUT_S", "10")
    monkeypatch.setenv("ECS_MEDIA_SEGMENT_S", "5")
    monkeypatch.setenv("ECS_MEDIA_HEALTH_INTERVAL_S", "0")
    monkeypatch.setenv("ECS_MEDIA_WORKERS", "2")  # cameras in worker processes (0, in-process, is tests/media's too)
    a = await start_api(settings_factory())
    try:
        yield a
    finally:
        await a.client.close()


async def add_camera(client: AuthedApi, srv: peer.RtspServer, mount: str = "cam1", name: str = "园区北门",
                     **over: Any) -> dict[str, Any]:
    body = {"name": name, "kind": "fixed", "url": srv.url(mount, with_credentials=False), "username": USER,
            "password": PASSWORD, "lon": 121.7, "lat": 30.88, **over}
    r = await client.post("/api/v1/cameras", json=body)
    assert r.status == 201, await r.text()
    return await r.json()


def _url(api: Api) -> str:
    return str(api.client.make_url("/"))


async def test_probe_reports_the_stream_and_clear_errors(api: Api, rtsp: peer.RtspServer) -> None:
    admin = await api.as_user("admin")
    texts: list[str] = []
    r = await admin.post("/api/v1/cameras/probe", json={"url": rtsp.url("cam1", with_credentials=False),
                                                        "username": USER, "password": PASSWORD})
    texts.append(await r.text())
    assert r.status == 200, texts[-1]
    info = await r.json()
    assert info["codec"] == "h264" and (info["width"], info["height"]) == (640, 360)
    assert abs(info["fps"] - 25) < 1 and info["bitrate_kbps"] > 50 and 0 < info["first_packet_ms"] < 5000

    cases = [
        ({"url": rtsp.url("cam1", with_credentials=False), "username": USER, "password": "wrong"}, 422,
         "camera_auth_failed"),
        ({"url": f"rtsp://127.0.0.1:{peer.free_port()}/x"}, 502, "camera_unreachable"),
        ({"url": f"rtsp://127.0.0.1:{api.client.server.port}/"}, 422, "not_rtsp"),  # an HTTP server
        ({"url": rtsp.url("audio")}, 422, "no_video"),
        ({"url": "http://127.0.0.1/x"}, 422, "validation_error"),
    ]
    for body, status, code in cases:
        r = await admin.post("/api/v1/cameras/probe", json=body)
        texts.append(await r.text())
        assert r.status == status, (body, texts[-1])
        assert (await r.json())["error"]["code"] == code, texts[-1]

    # a saved camera: the result is kept and the camera is online
    cam = await add_camera(admin, rtsp)
    op = await api.as_user("operator")
    lst = Listener(_url(api))
    await lst.connect(op.tokens["access_token"])
    try:
        r = await admin.post(f"/api/v1/cameras/{cam['id']}/probe")
        texts.append(await r.text())
        assert r.status == 200, texts[-1]
        ev = await lst.wait_for(lambda e: e["type"] == "camera.online" and e["subject_id"] == str(cam["id"]))
        assert ev["payload"]["name"] == "园区北门"
    finally:
        await lst.close()
    got = await (await admin.get(f"/api/v1/cameras/{cam['id']}")).json()
    assert got["status"] == "online" and got["media_info"]["width"] == 640 and got["last_seen"]
    texts.append(str(got))
    assert not any(PASSWORD in t for t in texts), "the camera password leaked into an answer"


async def test_snapshot_is_stored_as_an_attachment(api: Api, rtsp: peer.RtspServer) -> None:
    admin = await api.as_user("admin")
    cam = await add_camera(admin, rtsp)
    field = await api.as_user("field")
    r = await field.post(f"/api/v1/cameras/{cam['id']}/snapshot")
    assert r.status == 201, await r.text()
    snap = await r.json()
    assert snap["content_type"] == "image/jpeg" and (snap["width"], snap["height"]) == (640, 360)
    assert snap["filename"].endswith(".jpg") and snap["url"] == f"/api/v1/files/{snap['file_id']}/content"
    r = await field.get(snap["url"])
    assert r.status == 200 and r.headers["Content-Type"] == "image/jpeg"
    data = await r.read()
    assert len(data) == snap["size"] and jpeg_size(data) == (640, 360)
    meta = await (await field.get(f"/api/v1/files/{snap['file_id']}")).json()
    assert meta["sha256"] == snap["sha256"]


async def _offer_pc() -> tuple[Any, asyncio.Future[Any]]:
    from aiortc import RTCPeerConnection

    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    track_fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    @pc.on("track")
    def on_track(track: Any) -> None:
        if not track_fut.done():
            track_fut.set_result(track)

    await pc.setLocalDescription(await pc.createOffer())
    return pc, track_fut


async def _frames(track_fut: asyncio.Future[Any], n: int = 5, within_s: float = 20.0) -> list[Any]:
    async def read() -> list[Any]:
        track = await track_fut
        return [await track.recv() for _ in range(n)]

    async with asyncio.timeout(within_s):
        return await read()


async def test_webrtc_live_view_whep(api: Api, rtsp: peer.RtspServer) -> None:
    from aiortc import RTCSessionDescription

    admin = await api.as_user("admin")
    cam = await add_camera(admin, rtsp, "cam2", "取水口")
    screen = await api.as_user("screen")  # the big screen watches too
    pc, track_fut = await _offer_pc()
    try:
        r = await screen.post(f"/api/v1/cameras/{cam['id']}/webrtc", data=pc.localDescription.sdp,
                              headers={"Content-Type": "application/sdp"})
        assert r.status == 201, await r.text()
        assert r.headers["Content-Type"].startswith("application/sdp")
        location = r.headers["Location"]
        assert location.startswith(f"/api/v1/cameras/{cam['id']}/webrtc/")
        await pc.setRemoteDescription(RTCSessionDescription(sdp=await r.text(), type="answer"))
        frames = await _frames(track_fut)
        assert (frames[-1].width, frames[-1].height) == (640, 360)
        stats = await (await screen.get(f"/api/v1/cameras/{cam['id']}/stats")).json()
        assert stats["viewers"] == 1 and stats["stream"]["camera_id"] == str(cam["id"])
        overall = await (await admin.get("/api/v1/media/stats")).json()
        assert overall["available"] and overall["gateway"]["sessions"]["live"] == 1
        workers = overall["gateway"]["workers"]  # ECS_MEDIA_WORKERS reached the gateway; one camera, one worker
        assert len(workers) == 1 and workers[0]["cameras"] == [str(cam["id"])] and workers[0]["alive"]
        r = await screen.delete(location)
        assert r.status == 204
        r = await screen.delete(location)
        assert r.status == 404
    finally:
        await pc.close()

    # the JSON form, and refusals: bad SDP, a disabled camera
    pc, track_fut = await _offer_pc()
    try:
        r = await screen.post(f"/api/v1/cameras/{cam['id']}/webrtc", json={"sdp": pc.localDescription.sdp})
        assert r.status == 201, await r.text()
        body = await r.json()
        assert body["type"] == "answer" and body["location"] == r.headers["Location"]
        await pc.setRemoteDescription(RTCSessionDescription(sdp=body["sdp"], type="answer"))
        await _frames(track_fut, 2)
        assert (await screen.delete(body["location"])).status == 204
    finally:
        await pc.close()
    r = await screen.post(f"/api/v1/cameras/{cam['id']}/webrtc", json={"sdp": "hello"})
    assert r.status == 422
    await admin.patch(f"/api/v1/cameras/{cam['id']}", json={"enabled": False})
    r = await screen.post(f"/api/v1/cameras/{cam['id']}/webrtc", json={"sdp": "v=0\r\n" + "a=x\r\n" * 3})
    assert r.status == 409 and (await r.json())["error"]["code"] == "camera_disabled"


async def test_a_viewer_that_leaves_without_delete_is_forgotten(api: Api, rtsp: peer.RtspServer) -> None:
    """The browser closes its peer connection without DELETE: the gateway (its worker process, by default) ends the
    session, and the camera's viewer count follows (the command server prunes what the gateway no longer has)."""
    from aiortc import RTCSessionDescription

    admin = await api.as_user("admin")
    cam = await add_camera(admin, rtsp, "cam1", "泵站")
    pc, track_fut = await _offer_pc()
    r = await admin.post(f"/api/v1/cameras/{cam['id']}/webrtc", json={"sdp": pc.localDescription.sdp})
    assert r.status == 201, await r.text()
    body = await r.json()
    await pc.setRemoteDescription(RTCSessionDescription(sdp=body["sdp"], type="answer"))
    await _frames(track_fut, 2)
    stats = await (await admin.get(f"/api/v1/cameras/{cam['id']}/stats")).json()
    assert stats["viewers"] == 1
    await pc.close()  # DTLS close_notify: the gateway's side closes too
    deadline = asyncio.get_running_loop().time() + 15
    while stats["viewers"] and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.2)
        stats = await (await admin.get(f"/api/v1/cameras/{cam['id']}/stats")).json()
    assert stats["viewers"] == 0
    assert (await admin.delete(body["location"])).status == 404  # forgotten, not just hidden


async def test_status_events_follow_the_camera(api: Api, tmp_path: Path) -> None:
    """Stop the RTSP server under a live viewer: camera.offline within the stall timeout; start it again:
    camera.online without anyone asking."""
    from aiortc import RTCSessionDescription

    srv = peer.RtspServer(tmp_path / "rtsp", mounts={"cam": peer.clip("360p")},
                          credentials=(USER, PASSWORD)).start()
    pc = None
    lst = Listener(_url(api))
    try:
        admin = await api.as_user("admin")
        cam = await add_camera(admin, srv, "cam", "断面一号")
        sid = str(cam["id"])
        op = await api.as_user("operator")
        await lst.connect(op.tokens["access_token"])
        pc, track_fut = await _offer_pc()
        r = await op.post(f"/api/v1/cameras/{cam['id']}/webrtc", json={"sdp": pc.localDescription.sdp})
        assert r.status == 201, await r.text()
        await pc.setRemoteDescription(RTCSessionDescription(sdp=(await r.json())["sdp"], type="answer"))
        await _frames(track_fut, 3)
        await lst.wait_for(lambda e: e["type"] == "camera.online" and e["subject_id"] == sid)

        stopped = asyncio.get_running_loop().time()
        await asyncio.to_thread(srv.stop)
        ev = await lst.wait_for(lambda e: e["type"] == "camera.offline" and e["subject_id"] == sid,
                                within_s=STALL_S + 8)
        assert asyncio.get_running_loop().time() - stopped < STALL_S + 8
        assert ev["payload"]["previous"] == "online" and ev["payload"]["detail"]
        got = await (await op.get(f"/api/v1/cameras/{cam['id']}")).json()
        assert got["status"] == "offline" and got["status_detail"]

        n_online = sum(1 for e in lst.events if e["type"] == "camera.online")
        await asyncio.to_thread(srv.start)
        await lst.wait_for(lambda e: e["type"] == "camera.online" and e["subject_id"] == sid
                           and sum(1 for x in lst.events if x["type"] == "camera.online") > n_online, within_s=25)
        got = await (await op.get(f"/api/v1/cameras/{cam['id']}")).json()
        assert got["status"] == "online"
        # the events are in the log too
        r = await op.get("/api/v1/events", params={"type": "camera.", "limit": 20})
        assert {"camera.online", "camera.offline"} <= {e["type"] for e in (await r.json())["items"]}
    finally:
        if pc is not None:
            await pc.close()
        await lst.close()
        srv.stop()


async def _wait_rows(client: AuthedApi, camera_id: int, done: Any, within_s: float = 30.0) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    deadline = asyncio.get_running_loop().time() + within_s
    while asyncio.get_running_loop().time() < deadline:
        r = await client.get("/api/v1/recordings", params={"camera_id": camera_id})
        rows = (await r.json())["items"]
        if done(rows):
            return rows
        await asyncio.sleep(0.5)
    raise AssertionError(f"the recordings index did not fill in time: {rows}")


async def test_emergency_recording_index_download_clip_playback(api: Api, rtsp: peer.RtspServer) -> None:
    from aiortc import RTCSessionDescription

    admin = await api.as_user("admin")
    cam = await add_camera(admin, rtsp, "cam1", "危废仓库")
    cid = cam["id"]
    commander = await api.as_user("commander")
    before = dt.datetime.now(dt.UTC)
    r = await commander.post(f"/api/v1/cameras/{cid}/recordings", json={"duration_s": 7})
    assert r.status == 201, await r.text()
    timed = await r.json()
    assert r.headers["Location"] == timed["location"]
    stats = await (await commander.get(f"/api/v1/cameras/{cid}/stats")).json()
    assert [x["recording_id"] for x in stats["active_recordings"]] == [timed["recording_id"]]
    rows = await _wait_rows(commander, cid, lambda rows: sum(
        x["duration_s"] for x in rows if x["recording_id"] == timed["recording_id"]) >= 6.5)
    # a second one, stopped by hand — once the first has finished and a newer keyframe has arrived: two
    # recordings of one camera that start on the same keyframe write the same file (reported to media_gateway)
    for _ in range(40):
        stats = await (await commander.get(f"/api/v1/cameras/{cid}/stats")).json()
        if not stats["stream"].get("emergency_recordings"):
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(2.5)
    r = await commander.post(f"/api/v1/cameras/{cid}/recordings")
    assert r.status == 201, await r.text()
    manual = await r.json()
    await asyncio.sleep(3)
    r = await commander.delete(manual["location"])
    assert r.status == 204
    assert (await commander.delete(manual["location"])).status == 404
    rows = await _wait_rows(commander, cid, lambda rows: any(x["recording_id"] == manual["recording_id"]
                                                             for x in rows))
    timed_rows = [x for x in rows if x["recording_id"] == timed["recording_id"]]
    assert timed_rows, rows
    assert all(x["emergency"] and x["size"] > 0 and x["camera_name"] == "危废仓库" for x in rows)
    total = sum(x["duration_s"] for x in timed_rows)
    # 7 s, plus up to a GOP of pre-roll and the cut at the next keyframe
    assert 6.5 <= total <= 11, timed_rows
    assert len(timed_rows) >= 2, "5 s segments: a 7 s recording has at least two"

    r = await commander.get(timed_rows[0]["download_url"])
    assert r.status == 200 and r.headers["Content-Type"] == "video/mp4"
    assert b"ftyp" in (await r.read())[:64]

    # the range query shows the gap before the first recording
    start = min(dt.datetime.fromisoformat(x["start_at"].replace("Z", "+00:00")) for x in rows)
    end = max(dt.datetime.fromisoformat(x["end_at"].replace("Z", "+00:00")) for x in rows)
    r = await commander.get("/api/v1/recordings", params={
        "camera_id": cid, "from": (before - dt.timedelta(minutes=1)).isoformat(), "to": end.isoformat()})
    page = await r.json()
    assert page["gaps"] and page["gaps"][0]["seconds"] >= 55

    # clip export of a sub-range, no re-encode
    a, b = start + dt.timedelta(seconds=1), start + dt.timedelta(seconds=5)
    r = await commander.get(f"/api/v1/cameras/{cid}/clip", params={"from": a.isoformat(), "to": b.isoformat()})
    assert r.status == 200, await r.text()
    assert b"ftyp" in (await r.read())[:64]
    r = await commander.get(f"/api/v1/cameras/{cid}/clip", params={
        "from": (start - dt.timedelta(hours=3)).isoformat(), "to": (start - dt.timedelta(hours=2)).isoformat()})
    assert r.status == 404 and (await r.json())["error"]["code"] == "no_recording"

    # playback to WebRTC with pause, seek and speed
    pc, track_fut = await _offer_pc()
    try:
        r = await commander.post(f"/api/v1/cameras/{cid}/playback", json={
            "sdp": pc.localDescription.sdp, "from": start.isoformat(), "to": end.isoformat(), "speed": 2})
        assert r.status == 201, await r.text()
        pb = await r.json()
        assert pb["segments"] >= 2 and pb["speed"] == 2
        await pc.setRemoteDescription(RTCSessionDescription(sdp=pb["sdp"], type="answer"))
        frames = await _frames(track_fut, 3)
        assert frames[0].width == 640
        control = f"{pb['location']}/control"
        for body in ({"action": "pause"}, {"action": "resume"}, {"action": "speed", "value": 1},
                     {"action": "seek", "value": (start + dt.timedelta(seconds=2)).isoformat()},
                     {"action": "seek", "value": 1.5}):
            r = await commander.post(control, json=body)
            assert r.status == 200, (body, await r.text())
        r = await commander.post(control, json={"action": "seek", "value": (start - dt.timedelta(hours=1))
                                                .isoformat()})
        assert r.status == 422
        r = await commander.post(control, json={"action": "rewind"})
        assert r.status == 422
        assert (await commander.delete(pb["location"])).status == 204
    finally:
        await pc.close()

    # released emergency recordings may be deleted by retention; field staff may not release
    field = await api.as_user("field")
    assert (await field.post(f"/api/v1/recordings/{timed_rows[0]['id']}/release")).status == 403
    r = await commander.post(f"/api/v1/recordings/{timed_rows[0]['id']}/release")
    assert r.status == 200 and (await r.json())["released"]
    rows = (await (await commander.get("/api/v1/recordings", params={"camera_id": cid})).json())["items"]
    assert all(x["released"] for x in rows if x["recording_id"] == timed["recording_id"])
