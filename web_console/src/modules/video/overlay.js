// The `cameras` overlay for any BaseMap (the video module's map page, and the main map page once it offers
// module overlays): one circle per located camera, coloured by status, click → onClick(camera).
import * as L from '@/modules/map/leaflet'
import { STATUS_COLORS } from './api'

export const OVERLAY_KEY = 'cameras'
const GLYPH = '<svg viewBox="0 0 24 24" width="12" height="12" fill="#fff"><path d="M4 7h11a1 1 0 0 1 1 1v2.5l4-2.5v8l-4-2.5V16a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V8a1 1 0 0 1 1-1z"/></svg>'

function escapeHtml(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c])
}

/** Draw (or redraw) the overlay. `map` is BaseMap's exposed API; cameras are the catalogue rows. */
export function cameraOverlay(map, cameras, { onClick = () => {}, label = (c) => c.name, key = OVERLAY_KEY } = {}) {
  const located = cameras.filter((c) => c.lon !== null && c.lon !== undefined && c.lat !== null && c.lat !== undefined)
  const fc = {
    type: 'FeatureCollection',
    features: located.map((c) => ({ type: 'Feature', id: c.id, geometry: { type: 'Point', coordinates: [c.lon, c.lat] }, properties: { id: c.id, status: c.status } })),
  }
  const byId = Object.fromEntries(located.map((c) => [c.id, c]))
  return map.addGeoJSON(key, fc, {
    // a camera glyph in a rounded square, so cameras never look like the map's round thematic points
    pointToLayer: (f, ll) =>
      L.marker(ll, {
        pane: 'ecs-highlight',
        keyboard: false,
        icon: L.divIcon({
          className: `ecs-camera-marker ecs-camera-${f.properties.status}`,
          iconSize: [20, 20],
          iconAnchor: [10, 10],
          html: `<div data-testid="map-camera-${f.properties.id}" data-status="${escapeHtml(f.properties.status)}" style="width:20px;height:20px;border-radius:5px;border:2px solid #fff;box-shadow:0 0 2px rgba(0,0,0,.6);background:${STATUS_COLORS[f.properties.status] || STATUS_COLORS.unknown};display:flex;align-items:center;justify-content:center">${GLYPH}</div>`,
        }),
      }),
    onEachFeature: (f, lyr) => {
      const c = byId[f.properties.id]
      lyr.bindTooltip(escapeHtml(label(c)), { direction: 'top', offset: [0, -6] })
      lyr.on('click', () => onClick(c))
    },
  })
}
