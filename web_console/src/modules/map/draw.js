// Click-to-draw for circles, rectangles and polygons on a Leaflet map — no plugin, so that the behaviour
// is ours to test. Clicks rather than drags: the map stays pannable between clicks (an operator zooms
// in while drawing), and the same gesture works with a mouse, a touch screen or a test driver.
//   circle:    click the centre, click again at the radius (the rubber band shows the radius in metres)
//   rectangle: click one corner, click the opposite corner
//   polygon:   click each vertex; double-click, click the first vertex or press Enter to close (≥ 3)
// Esc cancels. The result is reported in the map's display coordinates; BaseMap converts to WGS-84.
import * as L from './leaflet'

const STYLE = { color: '#0b5fa5', weight: 2, dashArray: '6 4', fillColor: '#0b5fa5', fillOpacity: 0.08, pane: 'ecs-draw' }

export class Drawer {
  constructor(map, { onDone, onCancel, onHint } = {}) {
    this.map = map
    this.onDone = onDone
    this.onCancel = onCancel
    this.onHint = onHint
    this.shape = null
    this.points = []
    this.temp = L.layerGroup().addTo(map)
    this._click = (e) => this.click(e.latlng)
    this._move = (e) => this.move(e.latlng)
    this._dbl = (e) => {
      L.DomEvent.stop(e)
      this.finishPolygon()
    }
    this._key = (e) => {
      if (e.key === 'Escape') this.cancel()
      else if (e.key === 'Enter' && this.shape === 'polygon') this.finishPolygon()
    }
  }

  get active() {
    return !!this.shape
  }

  start(shape) {
    this.stop()
    this.shape = shape
    this.points = []
    this.hadDblZoom = this.map.doubleClickZoom.enabled()
    this.map.doubleClickZoom.disable()
    this.map.on('click', this._click)
    this.map.on('mousemove', this._move)
    this.map.on('dblclick', this._dbl)
    document.addEventListener('keydown', this._key)
    this.map.getContainer().classList.add('ecs-drawing')
    this.hint('start')
  }

  hint(step) {
    if (this.onHint) this.onHint(this.shape, step)
  }

  click(latlng) {
    const s = this.shape
    if (!s) return
    if (s === 'circle' || s === 'rectangle') {
      if (!this.points.length) {
        this.points.push(latlng)
        this.hint('second')
        this.move(latlng)
        return
      }
      const a = this.points[0]
      if (s === 'circle') {
        const r = this.map.distance(a, latlng)
        if (r < 1) return // a double click on the centre is not a circle
        this.done({ shape: 'circle', center: a, radius_m: r })
      } else {
        if (a.lat === latlng.lat || a.lng === latlng.lng) return
        this.done({ shape: 'rectangle', bounds: L.latLngBounds(a, latlng) })
      }
      return
    }
    // polygon: a click on the first vertex closes it
    if (this.points.length >= 3) {
      const p0 = this.map.latLngToContainerPoint(this.points[0])
      if (p0.distanceTo(this.map.latLngToContainerPoint(latlng)) < 8) {
        this.finishPolygon()
        return
      }
    }
    const last = this.points[this.points.length - 1]
    // the two clicks of a double-click land on the same pixel: keep one vertex
    if (last && this.map.latLngToContainerPoint(last).distanceTo(this.map.latLngToContainerPoint(latlng)) < 3) return
    this.points.push(latlng)
    this.hint(this.points.length >= 3 ? 'close' : 'more')
    this.move(latlng)
  }

  move(latlng) {
    if (!this.shape || !this.points.length) return
    this.temp.clearLayers()
    const a = this.points[0]
    if (this.shape === 'circle') {
      const r = this.map.distance(a, latlng)
      L.circle(a, { ...STYLE, radius: r, interactive: false }).addTo(this.temp)
      L.polyline([a, latlng], { ...STYLE, weight: 1, interactive: false }).addTo(this.temp)
      L.tooltip({ permanent: true, direction: 'right', className: 'ecs-draw-tip', pane: 'ecs-draw' })
        .setLatLng(latlng)
        .setContent(r >= 1000 ? `${(r / 1000).toFixed(2)} km` : `${Math.round(r)} m`)
        .addTo(this.temp)
    } else if (this.shape === 'rectangle') {
      L.rectangle(L.latLngBounds(a, latlng), { ...STYLE, interactive: false }).addTo(this.temp)
    } else {
      L.polygon([...this.points, latlng], { ...STYLE, interactive: false }).addTo(this.temp)
      for (const p of this.points) L.circleMarker(p, { ...STYLE, dashArray: null, radius: 4, fillOpacity: 1, interactive: false }).addTo(this.temp)
    }
  }

  finishPolygon() {
    if (this.shape !== 'polygon') return
    if (this.points.length < 3) {
      this.hint('tooFew')
      return
    }
    this.done({ shape: 'polygon', latlngs: this.points.slice() })
  }

  done(result) {
    this.stop()
    if (this.onDone) this.onDone(result)
  }

  cancel() {
    const was = this.shape
    this.stop()
    if (was && this.onCancel) this.onCancel(was)
  }

  stop() {
    if (!this.shape) return
    this.shape = null
    this.points = []
    this.temp.clearLayers()
    this.map.off('click', this._click)
    this.map.off('mousemove', this._move)
    this.map.off('dblclick', this._dbl)
    document.removeEventListener('keydown', this._key)
    if (this.hadDblZoom) this.map.doubleClickZoom.enable()
    this.map.getContainer().classList.remove('ecs-drawing')
  }

  destroy() {
    this.stop()
    this.temp.remove()
  }
}
