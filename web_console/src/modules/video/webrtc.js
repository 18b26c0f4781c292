// WebRTC viewing, WHEP-style: a recvonly offer is POSTed, the answer comes back with a Location that is
// DELETEd when done. No STUN/TURN here (`iceServers: []`): the media gateway answers with host candidates.
// The stream is H.264 passed through by the gateway, so the browser decodes exactly what the camera sent.
import { camerasApi } from './api'

const STATS_MS = 1000

function waitIceGathering(pc, timeoutMs = 2000) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve()
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      pc.removeEventListener('icegatheringstatechange', check)
      resolve()
    }
    const check = () => {
      if (pc.iceGatheringState === 'complete') done()
    }
    const timer = setTimeout(done, timeoutMs)
    pc.addEventListener('icegatheringstatechange', check)
  })
}

/**
 * One picture in a <video>: `start()` negotiates, `stop()` tears down. `onState({state, reason})` reports
 * loading → live (frames decoded) | error; `onStats({framesDecoded, fps, kbps, width, height})` every second.
 * `negotiate(sdp)` returns {sdp, location} — live view or playback.
 */
class BasePlayer {
  constructor(video, { onState, onStats } = {}) {
    this.video = video
    this.onState = onState || (() => {})
    this.onStats = onStats || (() => {})
    this.pc = null
    this.location = null
    this.timer = null
    this.generation = 0
    this.last = null
    this.framesDecoded = 0
  }

  async negotiate() {
    throw new Error('not implemented')
  }

  async start() {
    await this.stop()
    const gen = ++this.generation
    this.onState({ state: 'loading' })
    const pc = new RTCPeerConnection({ iceServers: [] })
    this.pc = pc
    pc.addTransceiver('video', { direction: 'recvonly' })
    pc.ontrack = (e) => {
      if (gen !== this.generation) return
      this.video.srcObject = e.streams && e.streams[0] ? e.streams[0] : new MediaStream([e.track])
      this.video.play().catch(() => {})
    }
    pc.onconnectionstatechange = () => {
      if (gen !== this.generation) return
      if (pc.connectionState === 'failed') this.onState({ state: 'error', reason: 'webrtc_failed' })
    }
    try {
      await pc.setLocalDescription(await pc.createOffer())
      await waitIceGathering(pc)
      const answer = await this.negotiate(pc.localDescription.sdp)
      if (gen !== this.generation) {
        // stopped meanwhile: release the server's session
        if (answer && answer.location) camerasApi.closeSession(answer.location).catch(() => {})
        return
      }
      this.location = answer.location
      await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp })
    } catch (e) {
      if (gen !== this.generation) return
      this.onState({ state: 'error', reason: e, code: e && e.code, status: e && e.status })
      this.teardown()
      return
    }
    this.framesDecoded = 0
    this.last = null
    this.timer = setInterval(() => this.poll(gen), STATS_MS)
  }

  async poll(gen) {
    const pc = this.pc
    if (!pc || gen !== this.generation) return
    let report
    try {
      report = await pc.getStats()
    } catch {
      return
    }
    let inbound = null
    report.forEach((s) => {
      if (s.type === 'inbound-rtp' && (s.kind === 'video' || s.mediaType === 'video')) inbound = s
    })
    if (!inbound) return
    const now = inbound.timestamp
    const frames = inbound.framesDecoded || 0
    const bytes = inbound.bytesReceived || 0
    let fps = inbound.framesPerSecond || 0
    let kbps = 0
    if (this.last) {
      const dt = (now - this.last.t) / 1000
      if (dt > 0) {
        kbps = ((bytes - this.last.bytes) * 8) / 1000 / dt
        if (!fps) fps = (frames - this.last.frames) / dt
      }
    }
    const grew = frames > this.framesDecoded
    this.framesDecoded = frames
    this.last = { t: now, bytes, frames }
    this.onStats({ framesDecoded: frames, fps: Math.round(fps * 10) / 10, kbps: Math.round(kbps), width: inbound.frameWidth || 0, height: inbound.frameHeight || 0, grew })
    if (grew) this.onState({ state: 'live' })
  }

  teardown() {
    clearInterval(this.timer)
    this.timer = null
    if (this.pc) {
      try {
        this.pc.close()
      } catch {
        /* closed */
      }
    }
    this.pc = null
    if (this.video) this.video.srcObject = null
  }

  async stop() {
    this.generation++
    const location = this.location
    this.location = null
    this.teardown()
    if (location) await camerasApi.closeSession(location).catch(() => {})
  }
}

export class LivePlayer extends BasePlayer {
  constructor(cameraId, video, opts) {
    super(video, opts)
    this.cameraId = cameraId
  }

  async negotiate(sdp) {
    const r = await camerasApi.webrtc(this.cameraId, sdp)
    return { sdp: r.sdp, location: r.location }
  }
}

export class PlaybackPlayer extends BasePlayer {
  /** body: {from, to, speed} (ISO strings); after start(): this.session = {start, end, segments, speed}. */
  constructor(cameraId, video, body, opts) {
    super(video, opts)
    this.cameraId = cameraId
    this.body = body
    this.session = null
  }

  async negotiate(sdp) {
    const r = await camerasApi.playback(this.cameraId, { ...this.body, sdp })
    this.session = r
    return { sdp: r.sdp, location: r.location }
  }

  async control(action, value) {
    if (!this.location) return null
    return camerasApi.playbackControl(this.location, action, value)
  }
}
