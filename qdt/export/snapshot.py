"""Print-quality snapshots of the 3D view: offscreen, tiled, with crisp overlays, as PNG or JPEG.

A snapshot of any size (up to :data:`MAX_SIDE` pixels a side) is rendered in tiles of at most
``tile_size`` pixels: each tile narrows the camera's view angle and shifts its window centre
so that it shows exactly its part of the full frustum, so a 7680×4320 image has the framing
of an 800×450 one (same camera, same aspect). The sky gradient is split the same way, and
line widths and point sizes (which VTK gives in pixels) grow with the image, so a big image
looks like a sharper small one. Labels (:mod:`qdt.render.label_placement`) and overlays
(:mod:`qdt.export.overlays`) are drawn afterwards at full resolution, so no tile seam cuts them;
labels are placed in a layout that depends only on the camera and the image's aspect, so a
6400×4000 snapshot shows exactly the labels of a 1600×1000 one, scaled.

Headless API::

    from qdt.export import SnapshotOptions, snapshot_project
    snap = snapshot_project(project, SnapshotOptions(width=4000, height=3000, dpi=300, title="五四广场"))
    snap.save("view.png")

The CLI (``qdt snapshot``) and the UI (File → 导出快照) call :func:`snapshot_task`.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from qdt.export.errors import ExportError
from qdt.language import cli_text
from qdt.safe_output import atomic_output, input_files, refuse_inputs
from qdt.tasks import CancelFn, ProgressFn, Task, check_cancel

__all__ = ["IMAGE_SUFFIXES", "MAX_SIDE", "OVERLAYS", "Snapshot", "SnapshotOptions", "ViewInfo", "render_view",
           "save_image", "snapshot_layers", "snapshot_project", "snapshot_task"]

MAX_SIDE = 16384  # pixels a side (a 16K print; tiles keep each GL framebuffer small)
DEFAULT_TILE = 2048  # pixels: within every GL implementation's limits, and ~50 MB of framebuffers
DEPTH_PROBE_ROWS = 300  # rows of the depth render that hides labels behind buildings (any image size)
GUARD = 8  # pixels rendered around each tile and cut off, so FXAA sees the neighbours at tile seams
REFERENCE_SIDE = 600.0  # at this many pixels (the shorter side) lines are as on screen; overlays' unit
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
OVERLAYS = ("title", "north_arrow", "scale_bar", "legend", "crs_date")


@dataclass
class SnapshotOptions:
    """What to render and which overlays to draw.

    Attributes
    ----------
    width, height
        Image size in pixels (1 … :data:`MAX_SIDE`).
    dpi
        Dots per inch written into the file (print size = pixels / dpi) and used for the
        printed scale (1:N) in the scale bar.
    title
        Title overlay (None: the project's name).
    overlays
        Which of :data:`OVERLAYS` to draw; empty for the bare view.
    underground
        Render the underground view (faded ground and buildings).
    camera
        A camera state (dict or ``qdt.project.Camera``); None: the bookmark, else the
        project's camera, else every layer framed from the south.
    bookmark
        Name of a project bookmark to render.
    date
        Date shown in the overlay (None: today).
    jpeg_quality
        JPEG quality (1–95).
    tile_size
        Largest tile rendered at once, in pixels a side.
    highlight
        Features to show in the selection colour besides the layers' own selections, as
        layer id → fids (a report highlights its query results; the layers are not touched).
    labels
        Draw the layers' labels (``qdt snapshot --no-labels`` turns them off).
    """

    width: int = 1600
    height: int = 1000
    dpi: int = 150
    title: str | None = None
    overlays: tuple[str, ...] = OVERLAYS
    underground: bool = False
    camera: Any = None
    bookmark: str | None = None
    date: _dt.date | None = None
    jpeg_quality: int = 92
    tile_size: int = DEFAULT_TILE
    highlight: dict[str, Any] | None = None
    labels: bool = True

    def check(self) -> None:
        """ExportError (one line naming the setting) for a value out of range."""
        for name in ("width", "height"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= MAX_SIDE:
                raise ExportError(f"snapshot {name} must be a whole number of pixels from 1 to {MAX_SIDE}, "
                                  f"not {value!r}")
        if not isinstance(self.dpi, (int, float, np.integer)) or not 10 <= self.dpi <= 2400:
            raise ExportError(f"snapshot DPI must be from 10 to 2400, not {self.dpi!r}")
        unknown = [o for o in self.overlays if o not in OVERLAYS]
        if unknown:
            raise ExportError(f"unknown overlay '{unknown[0]}' (known: {', '.join(OVERLAYS)})")
        if not 1 <= int(self.jpeg_quality) <= 95:
            raise ExportError(f"JPEG quality must be from 1 to 95, not {self.jpeg_quality!r}")
        if not 64 <= int(self.tile_size) <= MAX_SIDE:
            raise ExportError(f"tile size must be from 64 to {MAX_SIDE} pixels, not {self.tile_size!r}")


@dataclass
class ViewInfo:
    """What the overlays need to know about the rendered view.

    Attributes
    ----------
    north_angle
        Direction of north on the image at the view centre, degrees clockwise from "up"
        (0: north is up). NaN when north points at or away from the viewer (looking along it).
    metres_per_pixel
        Ground metres per image pixel at the view centre, measured horizontally across the
        view (exact for a top-down view, the centre's scale for an oblique one). NaN if unknown.
    labels
        Where the labels go (a :class:`qdt.render.label_placement.Placement` in layout units;
        image pixels = layout units × :func:`~qdt.render.label_placement.label_unit`), or None.
    """

    north_angle: float = math.nan
    metres_per_pixel: float = math.nan
    labels: Any = None


@dataclass
class Snapshot:
    """A rendered snapshot.

    Attributes
    ----------
    image
        (height, width, 3) uint8, first row at the top, overlays drawn.
    view
        North direction and scale at the view centre.
    boxes
        Where each drawn overlay lies: name → (x0, y0, x1, y1) pixels, top-left origin, x1/y1 exclusive.
    options
        The options it was made with (title and date resolved).
    """

    image: np.ndarray
    view: ViewInfo
    boxes: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)
    options: SnapshotOptions = field(default_factory=SnapshotOptions)

    def save(self, path: str | os.PathLike[str], *, inputs: Iterable[Any] = ()) -> Path:
        """Write PNG or JPEG (by suffix) with the DPI recorded; see :func:`save_image`."""
        return save_image(self.image, path, dpi=self.options.dpi, jpeg_quality=self.options.jpeg_quality,
                          inputs=inputs)


# --- rendering -----------------------------------------------------------------------------------

def _tiles(width: int, height: int, tile: int) -> list[tuple[int, int, int, int]]:
    """(x0, y0, x1, y1) pixel rectangles from the bottom-left, all ``tw × th`` (the last may overhang)."""
    nx, ny = math.ceil(width / tile), math.ceil(height / tile)
    tw, th = math.ceil(width / nx), math.ceil(height / ny)
    return [(i * tw, j * th, (i + 1) * tw, (j + 1) * th) for j in range(ny) for i in range(nx)]


def _view_info(renderer: Any, width: int, height: int) -> ViewInfo:
    """North angle and metres per pixel at the focal point, from the full image's projection."""
    camera = renderer.GetActiveCamera()
    matrix = camera.GetCompositeProjectionTransformMatrix(width / height, -1, 1)
    m = np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])
    focal = np.array(camera.GetFocalPoint(), dtype=float)
    distance = max(float(camera.GetDistance()), 1e-6)
    step = distance * 0.01

    def to_pixels(p: np.ndarray) -> np.ndarray:
        h = m @ np.append(p, 1.0)
        ndc = h[:3] / h[3]
        return np.array([(ndc[0] + 1) * width / 2, (1 - ndc[1]) * height / 2])  # image x right, y down

    centre = to_pixels(focal)
    north = to_pixels(focal + [0.0, step, 0.0]) - centre
    info = ViewInfo()
    if np.hypot(*north) > 1e-3 * width:
        info.north_angle = float(math.degrees(math.atan2(north[0], -north[1])))
    forward = focal - np.array(camera.GetPosition(), dtype=float)
    up = np.array(camera.GetViewUp(), dtype=float)
    right = np.cross(forward, up)
    right[2] = 0.0  # horizontal: a scale bar measures ground distance
    if np.linalg.norm(right) > 0:
        right /= np.linalg.norm(right)
        pixels = float(np.hypot(*(to_pixels(focal + right * step) - centre)))
        if pixels > 0:
            info.metres_per_pixel = step / pixels
    return info


def _place_labels(layers: Any, scene: Any, window: Any, width: int, height: int) -> Any:
    """The labels' placement for a ``width`` × ``height`` image of the scene's camera, hiding those
    behind buildings or terrain (a depth render :data:`DEPTH_PROBE_ROWS` rows high: the same for
    every image size of one aspect, so the placement is too); ExportError naming the layer for a
    label text that cannot be evaluated."""
    from qdt.render.label_placement import LabelError, label_candidates, label_unit, labelled_layers, place_labels
    from qdt.render.labels import read_depth, view_camera

    try:
        found = (label_candidates(layer, list(layers)) for layer in labelled_layers(layers))
        sets = [c for c in found if c is not None]
    except LabelError as exc:
        raise ExportError(str(exc)) from None
    if not sets:
        return None
    view = view_camera(scene.renderer, scene.origin, width, height, label_unit(width, height))
    rows = DEPTH_PROBE_ROWS
    window.SetSize(max(2, round(rows * width / height)), rows)
    window.Render()
    depth = read_depth(scene.renderer)
    window.SetSize(width, height)
    return place_labels(sets, view, depth)


def _clear_of(placement: Any, boxes: Iterable[tuple[int, int, int, int]], width: int, height: int) -> Any:
    """``placement`` without the labels that would touch an overlay box (title, legend, …: pixels)."""
    import shapely

    from qdt.render.label_placement import Placement, label_unit

    unit = label_unit(width, height)
    panels = shapely.union_all([shapely.box(x0 / unit, y0 / unit, x1 / unit, y1 / unit) for x0, y0, x1, y1 in boxes])
    polygons = placement.polygons()
    kept = [label for label, polygon in zip(placement.labels, polygons, strict=True)
            if not polygon.intersects(panels)]
    return Placement(placement.width, placement.height, kept, placement.candidates)


def draw_snapshot_labels(image: np.ndarray, view: ViewInfo) -> np.ndarray:
    """``image`` with ``view.labels`` drawn at its full resolution (the same image when none)."""
    from PIL import Image

    from qdt.render.label_placement import draw_labels, label_unit

    if view.labels is None or not view.labels.labels:
        return image
    height, width = image.shape[:2]
    canvas = Image.fromarray(np.ascontiguousarray(image[..., :3]), "RGB").convert("RGBA")
    draw_labels(canvas, view.labels, label_unit(width, height))
    return np.asarray(canvas.convert("RGB"))


def _scale_pixel_sizes(renderer: Any, factor: float) -> None:
    """Line widths and point sizes are in pixels: grow them with the image."""
    if factor == 1.0:
        return
    actors = renderer.GetActors()
    actors.InitTraversal()
    for _ in range(actors.GetNumberOfItems()):
        prop = actors.GetNextActor().GetProperty()
        prop.SetLineWidth(prop.GetLineWidth() * factor)
        prop.SetPointSize(prop.GetPointSize() * factor)


def _offscreen_window(width: int, height: int) -> Any:
    """An offscreen window; off the main thread an EGL one, which needs no X connection: a GLX
    context made on a worker thread while the GUI thread renders the 3D view crashes Xlib."""
    from qdt.render.offscreen import offscreen_window

    if threading.current_thread() is threading.main_thread():
        return offscreen_window(width, height)
    from vtkmodules.vtkRenderingOpenGL2 import vtkEGLRenderWindow

    window = vtkEGLRenderWindow()
    window.SetOffScreenRendering(True)
    window.SetMultiSamples(0)
    window.SetAlphaBitPlanes(True)
    window.SetSize(int(width), int(height))
    return window


def pixel_scale(width: int, height: int) -> float:
    """How much bigger than on screen pixel-sized things (lines, dots, overlays) are drawn."""
    return max(1.0, min(width, height) / REFERENCE_SIDE)


def render_view(layers: Any, width: int, height: int, *, camera: Any = None, underground: bool = False,
                tile_size: int = DEFAULT_TILE, highlight: dict[str, Any] | None = None,
                labels: bool = False, progress: ProgressFn | None = None,
                is_cancelled: CancelFn | None = None) -> tuple[np.ndarray, ViewInfo]:
    """Render ``layers`` (a LayerList) offscreen at ``width`` × ``height`` in tiles.

    Parameters
    ----------
    camera
        A camera state (see :meth:`qdt.render.Scene.set_camera_state`); None frames all
        layers from the south at 45°, as the 3D view does.
    underground
        The underground view.
    tile_size
        Largest tile side in pixels.
    highlight
        Layer id → fids drawn in the selection colour together with the layer's own selection
        (in this render only).
    labels
        Place the labelled layers' labels for this image (``view.labels``; drawing them is
        the caller's, at full resolution).
    progress, is_cancelled
        Task callbacks: one progress step per tile; cancelling stops between tiles
        (:class:`qdt.tasks.Cancelled`).

    Returns
    -------
    (image, view)
        (height, width, 3) uint8 top-down, and the north/scale at the view centre.
    """
    from qdt.render.offscreen import grab_image
    from qdt.render.scene import Scene

    progress = progress or (lambda f, m: None)
    is_cancelled = is_cancelled or (lambda: False)
    tiles = _tiles(width, height, tile_size)
    guard = GUARD if len(tiles) > 1 else 0
    tw, th = tiles[0][2] - tiles[0][0], tiles[0][3] - tiles[0][1]
    if camera is not None:  # streamed layers load the tiles this view needs first (qdt.io.window)
        from qdt.io.window import wait_for_view

        wait_for_view(layers, camera, width / max(height, 1), is_cancelled=is_cancelled)
    progress(0.0, "正在构建三维场景…")
    scene = Scene(layers, lod=False)
    window = _offscreen_window(tw + 2 * guard, th + 2 * guard)
    try:
        scene.set_underground(underground)
        for layer_id, fids in (highlight or {}).items():
            visual = scene.visuals.get(layer_id)
            if visual is not None:
                visual.set_selection(set(visual.layer.selection) | {int(f) for f in fids})
        window.AddRenderer(scene.renderer)
        renderer = scene.renderer
        window.SetSize(width, height)  # the full image's aspect for framing (nothing is allocated before Render)
        if camera is not None:
            try:
                scene.set_camera_state(camera)
            except ValueError as exc:
                raise ExportError(f"snapshot camera: {exc}") from None
        else:
            scene.frame_all()
        renderer.ResetCameraClippingRange()
        info = _view_info(renderer, width, height)
        cam = renderer.GetActiveCamera()
        angle, scale = cam.GetViewAngle(), cam.GetParallelScale()
        near_far = cam.GetClippingRange()
        if labels:
            info.labels = _place_labels(layers, scene, window, width, height)
            cam.SetClippingRange(*near_far)
        bottom = np.array(renderer.GetBackground(), dtype=float)
        top = np.array(renderer.GetBackground2(), dtype=float)
        gradient = bool(renderer.GetGradientBackground())
        _scale_pixel_sizes(renderer, pixel_scale(width, height))
        window.SetSize(tw + 2 * guard, th + 2 * guard)
        out = np.empty((height, width, 3), dtype=np.uint8)
        for n, (x0, y0, x1, y1) in enumerate(tiles):
            check_cancel(is_cancelled)
            progress(0.05 + 0.9 * n / len(tiles), cli_text("正在渲染图块 {n}/{total}…", n=n + 1, total=len(tiles)))
            gx0, gy0, gx1, gy1 = x0 - guard, y0 - guard, x1 + guard, y1 + guard
            w_t, h_t = gx1 - gx0, gy1 - gy0
            # the tile's part of the full frustum: a narrower angle, shifted window centre
            if cam.GetParallelProjection():
                cam.SetParallelScale(scale * h_t / height)
            else:
                cam.SetViewAngle(math.degrees(2 * math.atan(math.tan(math.radians(angle) / 2) * h_t / height)))
            cam.SetWindowCenter(((gx0 + gx1) / width - 1) * width / w_t, ((gy0 + gy1) / height - 1) * height / h_t)
            cam.SetClippingRange(*near_far)
            if gradient:
                renderer.SetBackground(*np.clip(bottom + (top - bottom) * (gy0 / height), 0, 1))
                renderer.SetBackground2(*np.clip(bottom + (top - bottom) * (gy1 / height), 0, 1))
            window.Render()
            tile = grab_image(window)  # top-down
            if tile.shape[:2] != (h_t, w_t):
                raise ExportError(f"offscreen render came back {tile.shape[1]}×{tile.shape[0]}, asked for {w_t}×{h_t}")
            cx1, cy1 = min(x1, width), min(y1, height)
            rows = slice(height - cy1, height - y0)
            # the tile's rows top-down: it spans gy1 (top) … gy0; we want image rows cy1 … y0
            out[rows, x0:cx1] = tile[gy1 - cy1:gy1 - y0, guard:guard + cx1 - x0]
        progress(0.95, "渲染完成")
        return out, info
    finally:
        scene.close()
        window.RemoveRenderer(scene.renderer)
        window.Finalize()


# --- snapshots -----------------------------------------------------------------------------------

def snapshot_layers(layers: Any, options: SnapshotOptions, *, crs_text: str = "", project_name: str = "",
                    progress: ProgressFn | None = None, is_cancelled: CancelFn | None = None) -> Snapshot:
    """Render ``layers`` with ``options`` (camera from ``options.camera``) and draw the overlays."""
    from qdt.export.overlays import draw_overlays

    options.check()
    options = replace(options, date=options.date or _dt.date.today(),
                      title=options.title if options.title is not None else project_name)
    image, view = render_view(layers, int(options.width), int(options.height), camera=options.camera,
                              underground=options.underground, tile_size=int(options.tile_size),
                              highlight=options.highlight, labels=options.labels, progress=progress,
                              is_cancelled=is_cancelled)
    boxes: dict[str, tuple[int, int, int, int]] = {}
    if options.overlays:
        image, boxes = draw_overlays(image, view, layers, options, crs_text=crs_text)
    if view.labels is not None and boxes:
        view.labels = _clear_of(view.labels, boxes.values(), int(options.width), int(options.height))
    image = draw_snapshot_labels(image, view)
    if progress is not None:
        progress(1.0, "快照完成")
    return Snapshot(image=image, view=view, boxes=boxes, options=options)


# Chinese names of the CRSs a Qingdao base map uses (GB/T 18522 names; pyproj knows the English ones)
CRS_NAMES_ZH = {"EPSG:4549": "2000国家大地坐标系 3度带高斯-克吕格投影 中央经线120°E", "EPSG:4490": "2000国家大地坐标系",
                "EPSG:4547": "2000国家大地坐标系 3度带高斯-克吕格投影 中央经线114°E",
                "EPSG:4548": "2000国家大地坐标系 3度带高斯-克吕格投影 中央经线117°E",
                "EPSG:5737": "1985国家高程基准", "EPSG:5736": "1956黄海高程系"}


def project_crs_text(project: Any) -> str:
    """The project's CRS and height datum in the language of the day: "2000国家大地坐标系 … (EPSG:4549) ·
    1985国家高程基准 (EPSG:5737)", or pyproj's English names."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    from qdt.language import ENGLISH, language

    parts = []
    for code in (project.crs, getattr(project, "height_datum", None)):
        if not code:
            continue
        if language() != ENGLISH and str(code).upper() in CRS_NAMES_ZH:
            parts.append(f"{CRS_NAMES_ZH[str(code).upper()]} ({code})")
            continue
        try:
            parts.append(f"{CRS.from_user_input(code).name} ({code})")
        except CRSError:
            parts.append(str(code))
    return " · ".join(parts)


def bookmark_camera(project: Any, name: str) -> Any:
    """The camera of bookmark ``name``; ExportError listing the bookmarks there are."""
    for bookmark in getattr(project, "bookmarks", []):
        if bookmark.name == name:
            return bookmark.camera
    known = ", ".join(b.name for b in getattr(project, "bookmarks", [])) or "none"
    raise ExportError(f"project has no bookmark '{name}' (bookmarks: {known})")


def snapshot_project(project: Any, options: SnapshotOptions, progress: ProgressFn | None = None,
                     is_cancelled: CancelFn | None = None, *, crs_text: str | None = None) -> Snapshot:
    """Snapshot a :class:`qdt.project.Project`: its layers, its camera (or ``options.bookmark``), its name as title.

    ``crs_text`` (default :func:`project_crs_text`) is worked out by tasks before they start:
    PROJ's database is not to be opened from a worker thread while the GUI uses it.
    """
    if options.camera is None:
        camera = bookmark_camera(project, options.bookmark) if options.bookmark else project.camera
        options = replace(options, camera=camera)
    text = project_crs_text(project) if crs_text is None else crs_text
    return snapshot_layers(project.layers, options, crs_text=text, project_name=project.name,
                           progress=progress, is_cancelled=is_cancelled)


def snapshot_task(project: Any, options: SnapshotOptions, out_path: str | os.PathLike[str]) -> Task:
    """A :class:`qdt.tasks.Task` that renders and writes the snapshot; its result is the Path written."""
    check_image_path(out_path)
    options.check()
    if options.camera is None and options.bookmark:
        bookmark_camera(project, options.bookmark)  # an unknown bookmark fails now, not in the worker
    crs_text = project_crs_text(project)
    inputs = input_files(project.layers, getattr(project, "path", None))
    refuse_inputs(out_path, inputs, ExportError)  # fail now, before a worker starts

    def run(progress: ProgressFn, is_cancelled: CancelFn) -> Path:
        snap = snapshot_project(project, options, progress, is_cancelled, crs_text=crs_text)
        check_cancel(is_cancelled)
        progress(1.0, "正在写入图像…")
        return snap.save(out_path, inputs=inputs)

    return Task("正在导出快照…", run)


# --- files ---------------------------------------------------------------------------------------

def check_image_path(path: str | os.PathLike[str]) -> Path:
    """ExportError for a suffix other than PNG/JPEG or a missing folder."""
    target = Path(path)
    if target.suffix.lower() not in IMAGE_SUFFIXES:
        raise ExportError(f"cannot write '{target}': use a file ending in {', '.join(IMAGE_SUFFIXES)}")
    if not target.parent.is_dir():
        raise ExportError(f"cannot write '{target}': folder '{target.parent}' does not exist")
    return target


def save_image(image: np.ndarray, path: str | os.PathLike[str], *, dpi: float = 150,
               jpeg_quality: int = 92, inputs: Iterable[Any] = ()) -> Path:
    """Write a top-down (h, w, 3) uint8 image as PNG or JPEG (by suffix) with ``dpi`` recorded
    (PNG pHYs chunk, JPEG JFIF density). Written to a temporary file first, then renamed, so a
    failure never leaves half an image; a ``path`` that is one of ``inputs`` is refused.
    ExportError (one line naming the file) on failure."""
    from PIL import Image

    target = check_image_path(path)
    jpeg = target.suffix.lower() in (".jpg", ".jpeg")
    picture = Image.fromarray(np.ascontiguousarray(image[..., :3]), "RGB")
    with atomic_output(target, inputs=inputs, error=ExportError) as temp:
        if jpeg:
            picture.save(temp, "JPEG", quality=int(jpeg_quality), dpi=(dpi, dpi), optimize=True, subsampling=0)
        else:
            picture.save(temp, "PNG", dpi=(dpi, dpi), compress_level=6)
    return target


def visible_styled_layers(layers: Iterable[Any]) -> list[Any]:
    """Visible vector and city-model layers, in drawing-list order (rasters have no legend)."""
    from qdt.layers import RasterLayer

    return [layer for layer in layers if layer.visible and not isinstance(layer, RasterLayer)]
