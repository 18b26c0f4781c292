// REST calls of the video module (cameras, live view, snapshots, recordings, playback, tours, wall layouts).
import { http, download, request } from '@/api/http'

const V1 = '/api/v1'

export const camerasApi = {
  list: (query) => http.get(`${V1}/cameras`, { query: { page_size: 2000, ...(query || {}) } }),
  get: (id) => http.get(`${V1}/cameras/${id}`),
  geojson: () => http.get(`${V1}/cameras/geojson`),
  create: (body) => http.post(`${V1}/cameras`, body),
  update: (id, body) => http.patch(`${V1}/cameras/${id}`, body),
  remove: (id) => http.delete(`${V1}/cameras/${id}`),
  probe: (id) => http.post(`${V1}/cameras/${id}/probe`),
  probeUrl: (body) => http.post(`${V1}/cameras/probe`, body),
  importXlsx: (file) => {
    const form = new FormData()
    form.append('file', file)
    return http.upload(`${V1}/cameras/import`, form)
  },
  template: () => download(`${V1}/cameras/import-template`, null, 'cameras-template.xlsx'),
  exportXlsx: (query) => download(`${V1}/cameras/export.xlsx`, query, 'cameras.xlsx'),
  /** WHEP-style: the SDP offer → {session_id, sdp, location}. */
  webrtc: (id, sdp) => http.post(`${V1}/cameras/${id}/webrtc`, { sdp }),
  closeSession: (location) => request('DELETE', location),
  snapshot: (id) => http.post(`${V1}/cameras/${id}/snapshot`),
  startRecording: (id, durationS) => http.post(`${V1}/cameras/${id}/recordings`, durationS ? { duration_s: durationS } : {}),
  stopRecording: (location) => request('DELETE', location),
  stats: (id) => http.get(`${V1}/cameras/${id}/stats`),
  playback: (id, body) => http.post(`${V1}/cameras/${id}/playback`, body),
  playbackControl: (location, action, value) => http.post(`${location}/control`, value === undefined ? { action } : { action, value }),
  clip: (id, from, to) => download(`${V1}/cameras/${id}/clip`, { from, to }, `clip-${id}.mp4`),
}

export const recordingsApi = {
  list: (query) => http.get(`${V1}/recordings`, { query }),
  download: (rec) => download(rec.download_url, null, `recording-${rec.id}.mp4`),
  release: (id) => http.post(`${V1}/recordings/${id}/release`),
}

export const toursApi = {
  list: () => http.get(`${V1}/camera-tours`),
  get: (id) => http.get(`${V1}/camera-tours/${id}`),
  create: (body) => http.post(`${V1}/camera-tours`, body),
  update: (id, body) => http.patch(`${V1}/camera-tours/${id}`, body),
  remove: (id) => http.delete(`${V1}/camera-tours/${id}`),
}

export const layoutsApi = {
  list: () => http.get(`${V1}/wall-layouts`),
  create: (body) => http.post(`${V1}/wall-layouts`, body),
  update: (id, body) => http.put(`${V1}/wall-layouts/${id}`, body),
  remove: (id) => http.delete(`${V1}/wall-layouts/${id}`),
}

export const mediaApi = {
  stats: () => http.get(`${V1}/media/stats`),
}

/** Download a stored file (a snapshot) through the authenticated client. */
export const downloadFile = (url, name) => download(url, null, name)

export const KINDS = ['fixed', 'ptz_dome', 'deployable_ball', 'body_cam', 'vehicle', 'drone']
export const RECORDING_MODES = ['none', 'continuous', 'emergency']
export const STATUS_COLORS = { online: '#2e9d57', offline: '#d64545', unknown: '#909399' }
/** layout → {cells, grid (columns = rows), main: span of the main picture} */
export const LAYOUTS = {
  1: { cells: 1, grid: 1, main: 1 },
  4: { cells: 4, grid: 2, main: 1 },
  9: { cells: 9, grid: 3, main: 1 },
  16: { cells: 16, grid: 4, main: 1 },
  '1+5': { cells: 6, grid: 3, main: 2 },
  '1+7': { cells: 8, grid: 4, main: 3 },
}
export const LAYOUT_KEYS = ['1', '4', '9', '16', '1+5', '1+7']
