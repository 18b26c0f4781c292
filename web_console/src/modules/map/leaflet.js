// Leaflet through its ES-module build. The package's `main` is a UMD bundle; bundled as CommonJS its
// interop helper lands in a shared chunk and creates a circular chunk import (a TDZ crash at start-up).
// Everything in this module imports Leaflet from here: `import * as L from '../leaflet'` (or './leaflet').
export * from 'leaflet/dist/leaflet-src.esm.js'
