"""The process-wide spatial index: every map layer in a ``gis.SpatialCatalog`` and the rivers in a
``gis.RiverNetwork``, loaded from the database at start and kept current from the event pump.

Every process applies the ``map_feature.*`` and ``river.*`` events it sees (their payload carries the whole
feature), so several workers all answer searches from current data without re-reading tables. The process
that made a change applies its own events right after commit, so a caller finds a feature it has just created.
Each feature remembers the id of the last event applied to it: an event delivered twice, or late, is a no-op,
and a deletion is never undone by an older event.

A bulk change (the demo seed, an import) emits one ``map.reloaded`` event instead; each process then reloads
everything and replays the map events committed meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import shapely.geometry
from aiohttp import web
from sqlalchemy import func, select

from gis import Feature, GisInputError, RiverNetwork, SpatialCatalog

from ..core.events import Event, events_after
from ..core.services import Services, services
from .models import MapFeature, River

log = logging.getLogger("ecs.geo")

LAYERS = ("sensitive", "resources", "risk_sources", "stations", "facilities", "districts")
RIVER_LAYER = "rivers"
DEFAULT_BOUNDS = (121.2, 30.8, 121.8, 31.3)  # the demo city's extent; used while the map is empty
FACILITY_SNAP_M = 500.0  # how far from its river a facility may stand and still be attached

FEATURE_EVENTS = ("map_feature.created", "map_feature.updated", "map_feature.deleted")
RIVER_EVENTS = ("river.created", "river.updated", "river.deleted")
RELOAD_EVENT = "map.reloaded"


def feature_payload(row: MapFeature) -> dict[str, Any]:
    """The wire shape of a feature in events and API answers (a GeoJSON-like flat record)."""
    return {"id": row.id, "layer": row.layer, "kind": row.kind, "name": row.name, "geometry": row.geometry,
            "properties": row.properties or {}}


def river_payload(row: River) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "geometry": row.geometry, "properties": row.properties or {}}


def to_feature(rec: Mapping[str, Any]) -> Feature:
    return Feature(str(rec["id"]), str(rec["layer"]), str(rec.get("kind") or ""), str(rec.get("name") or ""),
                   shapely.geometry.shape(rec["geometry"]), rec.get("properties") or {})


def to_reach(rec: Mapping[str, Any]) -> Feature:
    return Feature(str(rec["id"]), RIVER_LAYER, "river", str(rec.get("name") or ""),
                   shapely.geometry.shape(rec["geometry"]), rec.get("properties") or {})


class GeoIndex:
    def __init__(self) -> None:
        self.catalog = SpatialCatalog(DEFAULT_BOUNDS)
        self.reaches: dict[str, Feature] = {}
        self._versions: dict[str, int] = {}  # "f:<id>" / "r:<id>" → id of the last event applied
        self._layer_of: dict[str, str] = {}
        self._network: RiverNetwork | None = None
        self._network_dirty = True
        self._net_lock = threading.Lock()
        self.full_loads = 0
        self.applied = 0

    # -- loading -------------------------------------------------------------

    async def load(self, svc: Services) -> int:
        """Read every feature and river; returns the event id the snapshot is at least as new as."""
        async with svc.db.read() as s:
            since = await s.scalar(select(func.max(Event.id))) or 0
            rows = [feature_payload(r) for r in (await s.scalars(select(MapFeature))).all()]
            rivers = [river_payload(r) for r in (await s.scalars(select(River))).all()]
        catalog, reaches = await asyncio.to_thread(self._build, rows, rivers)
        self.catalog = catalog
        self.reaches = reaches
        self._layer_of = {str(r["id"]): r["layer"] for r in rows}
        self._versions = {**{f"f:{r['id']}": since for r in rows}, **{f"r:{r['id']}": since for r in rivers}}
        self._network_dirty = True
        self.full_loads += 1
        log.info("map index loaded: %d features, %d river reaches (events ≤ %d)", len(rows), len(rivers), since)
        return since

    @staticmethod
    def _build(rows: list[dict[str, Any]], rivers: list[dict[str, Any]]
               ) -> tuple[SpatialCatalog, dict[str, Feature]]:
        feats = []
        for r in rows:
            try:
                feats.append(to_feature(r))
            except (GisInputError, ValueError, KeyError, TypeError):
                log.warning("map feature %s has an unusable geometry; not indexed", r.get("id"))
        reaches = {}
        for r in rivers:
            try:
                reaches[str(r["id"])] = to_reach(r)
            except (GisInputError, ValueError, KeyError, TypeError):
                log.warning("river %s has an unusable geometry; not indexed", r.get("id"))
        bounds = DEFAULT_BOUNDS
        geoms = [f.geometry for f in feats] + [f.geometry for f in reaches.values()]
        if geoms:
            w, s, e, n = shapely.total_bounds(geoms)
            pad = 0.05
            bounds = (float(w) - pad, float(s) - pad, float(e) + pad, float(n) + pad)
        return SpatialCatalog(bounds, feats), reaches

    # -- events ----------------------------------------------------------------

    def _fresh(self, key: str, event_id: int) -> bool:
        if event_id <= self._versions.get(key, 0):
            return False
        self._versions[key] = event_id
        return True

    def apply_events(self, events: Iterable[Event]) -> bool:
        """Apply map events; True when a full reload was asked for (the caller runs it)."""
        reload = False
        for e in events:
            if e.type in FEATURE_EVENTS:
                self._apply_feature(e)
            elif e.type in RIVER_EVENTS:
                self._apply_river(e)
            elif e.type == RELOAD_EVENT:
                reload = True
        return reload

    def _apply_feature(self, e: Event) -> None:
        rec = (e.payload or {}).get("feature") or {}
        fid = str(rec.get("id", e.subject_id))
        if not self._fresh(f"f:{fid}", e.id):
            return
        old_layer = self._layer_of.pop(fid, None)
        f: Feature | None = None
        if e.type != "map_feature.deleted":
            try:
                f = to_feature(rec)
            except (GisInputError, ValueError, KeyError, TypeError):
                log.warning("event %d: unusable map feature %s; not indexed", e.id, fid)
        if old_layer is not None and (f is None or f.layer != old_layer):
            self.catalog.remove(old_layer, fid)
        if f is not None:
            self.catalog.upsert(f)  # replaces in place when the layer is unchanged
            self._layer_of[fid] = f.layer
        if "facilities" in (old_layer, rec.get("layer")):
            self._network_dirty = True
        self.applied += 1

    def _apply_river(self, e: Event) -> None:
        rec = (e.payload or {}).get("river") or {}
        rid = str(rec.get("id", e.subject_id))
        if not self._fresh(f"r:{rid}", e.id):
            return
        self.reaches.pop(rid, None)
        if e.type != "river.deleted":
            try:
                self.reaches[rid] = to_reach(rec)
            except (GisInputError, ValueError, KeyError, TypeError):
                log.warning("event %d: unusable river %s; not indexed", e.id, rid)
        self._network_dirty = True
        self.applied += 1

    # -- rivers ----------------------------------------------------------------

    def network(self) -> RiverNetwork | None:
        """The river network with the facilities layer attached; rebuilt lazily after a change (cheap: a
        city has a handful of reaches). Call from a worker thread."""
        with self._net_lock:
            if self._network_dirty or self._network is None:
                self._network_dirty = False
                reaches = list(self.reaches.values())
                if not reaches:
                    self._network = None
                    return None
                net = RiverNetwork(reaches, projection=self.catalog.projection)
                for f in (self.catalog.layer("facilities").features() if "facilities" in self.catalog.layer_names
                          else []):
                    try:
                        net.attach(f, FACILITY_SNAP_M)
                    except GisInputError:
                        pass  # a facility away from any river (e.g. a pond on land) is simply not on a path
                self._network = net
            return self._network


GEO_INDEX: web.AppKey[GeoIndex] = web.AppKey("geo_index")


def geo_index(app: web.Application) -> GeoIndex:
    return app[GEO_INDEX]


async def reload(svc: Services, index: GeoIndex) -> None:
    """Full reload, then replay map events committed after the snapshot (run in the pump task, ordered with
    live delivery, so nothing is missed between reading the tables and the pump's cursor)."""
    since = await index.load(svc)

    async def catch_up(cursor: int) -> None:
        after = since
        while after < cursor:
            async with svc.db.read() as s:
                batch = [e for e in await events_after(s, after, 500) if e.id <= cursor]
            if not batch:
                break
            index.apply_events(batch)
            after = batch[-1].id

    svc.pump.schedule(catch_up)


def install(app: web.Application) -> GeoIndex:
    """Create the index and subscribe it to the pump; ``start`` loads it (after migrations and seeding)."""
    index = GeoIndex()
    app[GEO_INDEX] = index
    svc = services(app)

    async def on_events(events: list[Event]) -> None:
        if index.apply_events(events):
            await reload(svc, index)

    svc.pump.subscribe(on_events)
    return index


async def start(app: web.Application) -> None:
    await reload(services(app), geo_index(app))
