// The map module's endpoints (geo + simulation domains). Kept in the module folder so that the module
// is self-contained; other modules may import `mapApi` from '@/modules/map/api'.
import { http, request } from '@/api/http'

const V1 = '/api/v1'

/** Save a Response body as a file, taking the server-given name (RFC 5987 filename*). */
async function saveResponse(resp, fallbackName) {
  const blob = await resp.blob()
  let name = fallbackName
  const cd = resp.headers.get('content-disposition') || ''
  const star = /filename\*=(?:UTF-8'')?([^;]+)/i.exec(cd)
  try {
    if (star) name = decodeURIComponent(star[1].trim().replace(/^"|"$/g, ''))
  } catch {
    /* keep fallback */
  }
  const href = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = href
  a.download = name
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(href), 10_000)
  return name
}

export const mapApi = {
  config: () => http.get(`${V1}/gis/config`),
  layers: () => http.get(`${V1}/gis/layers`),
  /** One layer as GeoJSON; crs = the base map's system so that no conversion is needed here. */
  layer: (layer, query, opts) => http.get(`${V1}/gis/layers/${encodeURIComponent(layer)}`, { query, ...opts }),
  search: (body) => http.post(`${V1}/gis/search`, body),
  /** POST search → XLSX download (the table as the server renders it). */
  exportSearch: async (body) => {
    const resp = await request('POST', `${V1}/gis/search/export.xlsx`, { body, raw: true })
    return saveResponse(resp, 'search.xlsx')
  },
  convert: (lon, lat, from, to) => http.get(`${V1}/gis/convert`, { query: { lon, lat, from, to } }),
  trace: (body) => http.post(`${V1}/gis/rivers/trace`, body),
  chemicals: (q, limit = 30) => http.get(`${V1}/chemicals`, { query: { q, limit } }),
  chemical: (key) => http.get(`${V1}/chemicals/${encodeURIComponent(key)}`),
  plume: (body) => http.post(`${V1}/dispersion/plume`, body),
  puff: (body) => http.post(`${V1}/dispersion/puff`, body),
  river: (body) => http.post(`${V1}/dispersion/river`, body),
  runs: (query) => http.get(`${V1}/dispersion/runs`, { query }),
  run: (id) => http.get(`${V1}/dispersion/runs/${id}`),
}
