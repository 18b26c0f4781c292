// WGS-84 ⇄ GCJ-02 ⇄ BD-09 in the browser, for what cannot wait for a round trip: the mouse read-out
// (MAP-11) and drawing overlays on an AMap/Baidu base map. These are the published formulas, the same
// ones the server's `gis` package implements; the API's `crs=` parameter does the conversion for layers.
// Outside mainland China's bounding box GCJ-02 equals WGS-84 (the offset only applies inside China).

const A = 6378245.0 // Krasovsky 1940 semi-major axis used by the GCJ-02 obfuscation
const EE = 0.00669342162296594323 // its first eccentricity squared
const X_PI = (Math.PI * 3000.0) / 180.0

export const CRS_LIST = ['wgs84', 'gcj02', 'bd09']

export function outOfChina(lon, lat) {
  return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271
}

function transformLat(x, y) {
  let r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x))
  r += ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0
  r += ((20.0 * Math.sin(y * Math.PI) + 40.0 * Math.sin((y / 3.0) * Math.PI)) * 2.0) / 3.0
  r += ((160.0 * Math.sin((y / 12.0) * Math.PI) + 320 * Math.sin((y * Math.PI) / 30.0)) * 2.0) / 3.0
  return r
}

function transformLon(x, y) {
  let r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x))
  r += ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0
  r += ((20.0 * Math.sin(x * Math.PI) + 40.0 * Math.sin((x / 3.0) * Math.PI)) * 2.0) / 3.0
  r += ((150.0 * Math.sin((x / 12.0) * Math.PI) + 300.0 * Math.sin((x / 30.0) * Math.PI)) * 2.0) / 3.0
  return r
}

function gcjOffset(lon, lat) {
  let dLat = transformLat(lon - 105.0, lat - 35.0)
  let dLon = transformLon(lon - 105.0, lat - 35.0)
  const radLat = (lat / 180.0) * Math.PI
  let magic = Math.sin(radLat)
  magic = 1 - EE * magic * magic
  const sqrtMagic = Math.sqrt(magic)
  dLat = (dLat * 180.0) / (((A * (1 - EE)) / (magic * sqrtMagic)) * Math.PI)
  dLon = (dLon * 180.0) / ((A / sqrtMagic) * Math.cos(radLat) * Math.PI)
  return [dLon, dLat]
}

export function wgs84ToGcj02(lon, lat) {
  if (outOfChina(lon, lat)) return [lon, lat]
  const [dLon, dLat] = gcjOffset(lon, lat)
  return [lon + dLon, lat + dLat]
}

/** Inverse by fixed-point iteration: the offset varies slowly, so a few steps reach millimetres. */
export function gcj02ToWgs84(lon, lat) {
  if (outOfChina(lon, lat)) return [lon, lat]
  let wLon = lon
  let wLat = lat
  for (let i = 0; i < 10; i++) {
    const [gLon, gLat] = wgs84ToGcj02(wLon, wLat)
    const eLon = gLon - lon
    const eLat = gLat - lat
    wLon -= eLon
    wLat -= eLat
    if (Math.abs(eLon) < 1e-10 && Math.abs(eLat) < 1e-10) break
  }
  return [wLon, wLat]
}

export function gcj02ToBd09(lon, lat) {
  const z = Math.sqrt(lon * lon + lat * lat) + 0.00002 * Math.sin(lat * X_PI)
  const theta = Math.atan2(lat, lon) + 0.000003 * Math.cos(lon * X_PI)
  return [z * Math.cos(theta) + 0.0065, z * Math.sin(theta) + 0.006]
}

export function bd09ToGcj02(lon, lat) {
  const x = lon - 0.0065
  const y = lat - 0.006
  const z = Math.sqrt(x * x + y * y) - 0.00002 * Math.sin(y * X_PI)
  const theta = Math.atan2(y, x) - 0.000003 * Math.cos(x * X_PI)
  return [z * Math.cos(theta), z * Math.sin(theta)]
}

/** Convert one point between any two of wgs84 / gcj02 / bd09. */
export function convertPoint(lon, lat, from, to) {
  if (from === to) return [lon, lat]
  let p = [lon, lat]
  if (from === 'wgs84') p = wgs84ToGcj02(...p)
  else if (from === 'bd09') p = bd09ToGcj02(...p)
  // p is GCJ-02 now
  if (to === 'wgs84') return gcj02ToWgs84(...p)
  if (to === 'bd09') return gcj02ToBd09(...p)
  return p
}

/** A copy of a GeoJSON geometry / Feature / FeatureCollection with every position converted. */
export function convertGeoJSON(obj, from, to) {
  if (!obj || from === to) return obj
  const pos = (c) => {
    const [x, y] = convertPoint(c[0], c[1], from, to)
    return c.length > 2 ? [x, y, ...c.slice(2)] : [x, y]
  }
  const walk = (coords, depth) => (depth === 0 ? pos(coords) : coords.map((c) => walk(c, depth - 1)))
  const DEPTH = { Point: 0, MultiPoint: 1, LineString: 1, MultiLineString: 2, Polygon: 2, MultiPolygon: 3 }
  const geom = (g) => {
    if (!g) return g
    if (g.type === 'GeometryCollection') return { ...g, geometries: g.geometries.map(geom) }
    return { ...g, coordinates: walk(g.coordinates, DEPTH[g.type]) }
  }
  if (obj.type === 'FeatureCollection') return { ...obj, features: obj.features.map((f) => ({ ...f, geometry: geom(f.geometry) })) }
  if (obj.type === 'Feature') return { ...obj, geometry: geom(obj.geometry) }
  return geom(obj)
}

/** Initial bearing in degrees (0 = north, clockwise) → one of 16 compass point keys (N, NNE, …). */
const POINTS = ['N', 'NNE', 'NE', 'ENE', 'E', 'ESE', 'SE', 'SSE', 'S', 'SSW', 'SW', 'WSW', 'W', 'WNW', 'NW', 'NNW']
export function compassPoint(deg) {
  if (deg === null || deg === undefined || !isFinite(deg)) return ''
  const i = Math.round((((deg % 360) + 360) % 360) / 22.5) % 16
  return POINTS[i]
}
