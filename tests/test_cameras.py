"""Simulated cameras: images, metric depth, segmentation, calibration, and episode video."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from sim.cameras import DEFAULT_CAMERAS
from sim.env import TabletopEnv
from sim.recorder import VideoRecorder

CAMERAS = [c.name for c in DEFAULT_CAMERAS]


@pytest.fixture(scope="module")
def scene(item):
    """The arm at home, a block and a can off the image centre of the top camera."""
    placements = [
        item("block", "red", pose=(0.6, 0.1, 0.0)),
        item("cylinder", "green", pose=(0.4, -0.15, 0.0), name="green can"),
    ]
    with TabletopEnv(placements, seed=0) as env:
        yield env


@pytest.fixture(scope="module")
def frames(scene):
    return {name: scene.robot.camera(name) for name in CAMERAS}


def project(frame, point) -> tuple[float, float, float]:
    """(u, v, depth along the optical axis) of a world point, through K and inv(extrinsics)."""
    in_camera = np.linalg.inv(frame.extrinsics) @ np.array([*point, 1.0])
    u, v, w = frame.intrinsics @ in_camera[:3]
    return u / w, v / w, in_camera[2]


def ids_by_name(frame) -> dict[str, int]:
    return {name: i for i, name in frame.labels.items()}


def test_the_default_cameras_are_top_and_front(scene):
    assert CAMERAS == ["top", "front"]
    assert scene.robot.spec().cameras == ("top", "front")


@pytest.mark.parametrize("name", CAMERAS)
def test_frame_arrays_have_the_documented_types(scene, frames, name):
    frame, spec = frames[name], scene.world.camera_spec(name)
    h, w = spec.height, spec.width
    assert frame.camera == name
    assert frame.rgb.shape == (h, w, 3) and frame.rgb.dtype == np.uint8
    assert frame.depth.shape == (h, w) and frame.depth.dtype == np.float32
    assert frame.segmentation.shape == (h, w) and frame.segmentation.dtype == np.int32
    assert frame.intrinsics.shape == (3, 3) and frame.extrinsics.shape == (4, 4)
    assert np.all(np.isfinite(frame.depth))
    assert spec.near <= frame.depth.min() and frame.depth.max() <= spec.far
    assert frame.labels == scene.world.body_names()
    assert frame.rgb.std() > 10  # an image, not a blank


def test_top_camera_sees_the_table_one_metre_below_at_the_centre(scene, frames):
    frame = frames["top"]
    h, w = frame.depth.shape
    assert scene.world.camera_spec("top").eye[2] == 1.0
    assert frame.segmentation[h // 2, w // 2] == scene.world.table
    assert frame.depth[h // 2, w // 2] == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("name", CAMERAS)
def test_intrinsics_follow_the_field_of_view(scene, frames, name):
    spec, k = scene.world.camera_spec(name), frames[name].intrinsics
    f = spec.height / (2 * math.tan(math.radians(spec.fov_deg) / 2))
    assert k[1, 1] == pytest.approx(f)
    assert k[0, 0] == pytest.approx(f)  # square pixels
    # where the renderer puts the principal point (measured; see CameraSpec.intrinsics)
    assert (k[0, 2], k[1, 2]) == pytest.approx((spec.width / 2, spec.height / 2 - 1))
    assert k[2].tolist() == [0.0, 0.0, 1.0]


@pytest.mark.parametrize("name", CAMERAS)
def test_extrinsics_are_a_rigid_camera_to_world_transform(scene, frames, name):
    spec, ext = scene.world.camera_spec(name), frames[name].extrinsics
    rot = ext[:3, :3]
    assert rot.T @ rot == pytest.approx(np.eye(3), abs=1e-9)
    assert np.linalg.det(rot) == pytest.approx(1.0)
    assert ext[:3, 3] == pytest.approx(spec.eye)
    assert ext[3].tolist() == [0.0, 0.0, 0.0, 1.0]
    forward = np.subtract(spec.target, spec.eye)
    assert rot[:, 2] == pytest.approx(forward / np.linalg.norm(forward))  # optical axis z


@pytest.mark.parametrize("name", CAMERAS)
def test_object_centres_project_into_their_masks(scene, frames, name):
    frame = frames[name]
    h, w = frame.depth.shape
    ids = ids_by_name(frame)
    for state in scene.objects():
        u, v, z = project(frame, state.position)
        assert 0 <= u < w and 0 <= v < h, state.name
        row, col = int(v), int(u)
        assert frame.segmentation[row, col] == ids[state.name], state.name
        # The visible surface lies in front of the centre, within the object's size.
        assert z - max(state.size) <= frame.depth[row, col] <= z, state.name


@pytest.mark.parametrize("name", CAMERAS)
def test_table_pixels_unproject_onto_the_table_plane(scene, frames, name):
    frame = frames[name]
    rows, cols = np.nonzero(frame.segmentation == scene.world.table)
    assert rows.size > 1000
    pixels = np.stack([cols, rows, np.ones(rows.size)])  # OpenCV: centres at integers
    rays = np.linalg.inv(frame.intrinsics) @ pixels  # z = 1: scaled by metric depth
    points = frame.extrinsics[:3, :3] @ (rays * frame.depth[rows, cols]) + frame.extrinsics[:3, 3:]
    assert np.abs(points[2]).max() < 0.003


def test_top_image_has_the_far_edge_up_and_the_robots_left_on_the_left(frames):
    frame = frames["top"]
    h, w = frame.depth.shape
    rows, cols = np.nonzero(frame.segmentation == ids_by_name(frame)["red block"])
    assert rows.mean() < h / 2  # x = 0.6: beyond the centre, so higher in the image
    assert cols.mean() < w / 2  # y = +0.1: the robot's left
    r, g, b = frame.rgb[rows, cols].astype(int).mean(axis=0)
    assert r > g + 60 and r > b + 60  # the red block looks red


def test_a_block_at_the_centre_of_the_top_view_is_in_the_mask_by_name(make_env, item):
    env = make_env(item("block", "blue", pose=(0.5, 0.0, 0.0)))
    frame = env.robot.camera("top")
    h, w = frame.depth.shape
    centre_id = int(frame.segmentation[h // 2, w // 2])
    assert frame.labels[centre_id] == "blue block"
    assert frame.depth[h // 2, w // 2] == pytest.approx(1.0 - 0.04, abs=0.01)  # its top face
    rows, cols = np.nonzero(frame.segmentation == centre_id)
    assert abs(rows.mean() - h / 2) < 3 and abs(cols.mean() - w / 2) < 3
    # A 4 cm block seen from 0.96 m covers about (f * 0.04 / 0.96)^2 pixels.
    side = frame.intrinsics[0, 0] * 0.04 / 0.96
    assert rows.size == pytest.approx(side**2, rel=0.15)


def test_unknown_camera_is_refused_listing_the_cameras(scene):
    with pytest.raises(KeyError, match="unknown camera 'side'; cameras: top, front"):
        scene.world.camera_spec("side")


@pytest.mark.parametrize("duration_s", [1.0, 1.55])
def test_video_recorder_writes_a_readable_mp4_at_10_hz(make_env, item, tmp_path, duration_s):
    env = make_env(item("block", "red", pose=(0.5, 0.0, 0.0)))
    path = tmp_path / "run" / "episode.mp4"
    steps = round(duration_s / env.world.config.time_step)
    with VideoRecorder(env.world, path, camera="front", fps=10.0) as recorder:
        env.world.step(steps)
    expected = 1 + math.floor(duration_s * 10)  # a frame at the start, then every 0.1 s
    assert recorder.frames == pytest.approx(expected, abs=1)
    assert recorder.stop() == recorder.frames  # stopping twice is harmless

    video = cv2.VideoCapture(str(path))
    try:
        assert video.isOpened()
        shapes = []
        while True:
            ok, image = video.read()
            if not ok:
                break
            shapes.append(image.shape)
    finally:
        video.release()
    assert len(shapes) == recorder.frames
    assert set(shapes) == {(240, 320, 3)}
    env.world.step(24)  # detached: no more frames
    assert recorder.frames == len(shapes)


def test_video_recorder_refuses_a_bad_rate_or_camera(make_env, tmp_path):
    env = make_env()
    with pytest.raises(ValueError, match="video rate 100"):
        VideoRecorder(env.world, tmp_path / "x.mp4", fps=100.0)
    with pytest.raises(KeyError, match="unknown camera 'side'"):
        VideoRecorder(env.world, tmp_path / "x.mp4", camera="side")
