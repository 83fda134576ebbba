"""Detectors on fixed simulated scenes with known answers; errors; sources; `heed perceive`."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from heed.perceive import SceneRecipe, build_scene, perceive_command, scene_recipe
from perception.colors import SHADE_RANGE, ColorNamer
from perception.detector import (
    Detector,
    FrameError,
    PerceptionError,
    detector_names,
    make_detector,
)
from perception.scene_graph import EMPTY_TEXT, SceneGraph
from perception.source import PerceptionSource, make_object_source
from perception.tracking import Tracker
from skills.errors import HeedError
from skills.palette import PALETTE
from skills.primitives import Skills

CAMERAS = ("top", "front")
POSITION_TOL = 0.005
SIZE_TOL = 0.005


@pytest.fixture(scope="module")
def fixed(request):
    """A fixed scene (a stack, a block in a bowl, each kind once), its truth and frames."""
    item = request.getfixturevalue("item")
    recipe = SceneRecipe(
        0,
        (
            item("block", "red", (0.62, -0.15, 0.3)),
            item("bowl", "blue", (0.58, 0.12, 0.0)),
            item("bar", "green", (0.45, -0.02, 0.5)),
            item("cylinder", "purple", (0.40, 0.20, 0.0)),
            item("zone", "yellow", (0.38, -0.20, 0.0)),
        ),
        ((item("block", "orange"), "red block"), (item("block", "white"), "blue bowl")),
    )
    with build_scene(recipe) as env:
        frames = {c: env.robot.camera(c) for c in CAMERAS}
        yield env.objects(), frames, env.robot.state()


@pytest.mark.parametrize("name", ["segmentation", "rgbd"])
def test_detectors_find_every_object_of_the_fixed_scene(fixed, name):
    truth, frames, state = fixed
    detector = make_detector(name)
    assert isinstance(detector, Detector)
    nodes = Tracker().update(detector.detect(frames, state), state)
    found = {n.name: n for n in nodes}
    assert sorted(found) == sorted(t.name for t in truth)
    for t in truth:
        d = found[t.name]
        assert (d.category, d.color) == (t.category, t.color), t.name
        assert math.dist(d.position, t.position) <= POSITION_TOL, t.name
        want = (*sorted(t.size[:2], reverse=True), t.size[2])
        got = (*sorted(d.size[:2], reverse=True), d.size[2])
        assert np.allclose(got, want, atol=SIZE_TOL), t.name
    graph, real = SceneGraph.build(nodes), SceneGraph.build(truth)
    assert set(graph.edges) == set(real.edges)
    assert ("on", "orange block", "red block") in graph.edges
    assert ("in", "white block", "blue bowl") in graph.edges


def test_segmentation_detections_carry_the_source_labels(fixed):
    truth, frames, state = fixed
    labels = {d.label for d in make_detector("segmentation").detect(frames, state)}
    assert labels == {t.name for t in truth}


@pytest.mark.parametrize("name", ["segmentation", "rgbd"])
def test_an_empty_table_gives_no_detections_and_an_empty_graph(make_env, name):
    env = make_env()
    source = make_object_source(name, env)
    assert source.objects() == []
    assert source.scene_graph().to_text() == EMPTY_TEXT


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("intrinsics", None, "camera 'top': intrinsics must be a 3x3 pinhole matrix K, got None"),
        ("intrinsics", np.eye(4), "intrinsics must be a 3x3 pinhole matrix K, got shape"),
        ("intrinsics", np.zeros((3, 3)), "positive finite focal lengths"),
        ("extrinsics", np.eye(3), "camera 'top': extrinsics must be a finite 4x4"),
        ("depth", np.zeros((10, 10), np.float32), "of the same size"),
    ],
)
@pytest.mark.parametrize("name", ["segmentation", "rgbd"])
def test_a_frame_without_calibration_is_refused_naming_the_camera(
    fixed, name, field, value, message
):
    _, frames, _ = fixed
    broken = {**frames, "top": dataclasses.replace(frames["top"], **{field: value})}
    with pytest.raises(FrameError, match=message) as caught:
        make_detector(name).detect(broken)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, HeedError)


def test_no_frames_and_no_mask_are_refused(fixed):
    _, frames, _ = fixed
    with pytest.raises(FrameError, match="no camera frames"):
        make_detector("rgbd").detect({})
    unmasked = {"top": dataclasses.replace(frames["top"], segmentation=None)}
    with pytest.raises(FrameError, match="camera 'top' gives no segmentation mask"):
        make_detector("segmentation").detect(unmasked)


def test_unknown_detector_and_source_list_the_known_ones(make_env):
    assert {"segmentation", "rgbd", "owlvit"} <= set(detector_names())
    with pytest.raises(PerceptionError, match=r"unknown detector 'yolo'.*rgbd"):
        make_detector("yolo")
    with pytest.raises(PerceptionError, match=r"unknown object source 'lidar'.*ground_truth"):
        make_object_source("lidar", make_env())


def test_owlvit_needs_a_local_model(tmp_path):
    with pytest.raises(PerceptionError, match="no OWL-ViT model in"):
        make_detector("owlvit", model_dir=tmp_path)


@pytest.mark.parametrize("color", list(PALETTE))
def test_palette_colours_are_named_in_light_and_shade(color):
    namer = ColorNamer()
    for shade in SHADE_RANGE:
        rgb = tuple(v * 255 * shade for v in PALETTE[color])
        assert namer.name(rgb) == color, shade


def test_scene_recipes_are_deterministic():
    assert scene_recipe(11) == scene_recipe(11)
    assert 3 <= scene_recipe(11).size <= 7


def test_ground_truth_source_is_the_environment(make_env, item):
    env = make_env(item("block", "red", (0.5, 0.0)))
    assert make_object_source("ground_truth", env) is env


def test_tracking_keeps_the_red_blocks_name_while_carried(make_env, item):
    env = make_env(
        item("block", "red", (0.45, -0.10, 0.3)),
        item("block", "red", (0.60, 0.15), name="red block 2"),
        item("block", "green", (0.50, 0.10)),
    )
    source = make_object_source("rgbd", env)
    assert isinstance(source, PerceptionSource)
    skills = Skills(env.robot, source)
    assert skills.pick("red block").success
    carried = source.scene_graph().node("red block")
    assert carried.position[2] > 0.06  # lifted, and still called "red block"
    assert skills.place((0.55, -0.15)).success
    graph = source.scene_graph()
    assert sorted(n.name for n in graph.nodes) == ["green block", "red block", "red block 2"]
    assert graph.node("red block").position[:2] == pytest.approx((0.55, -0.15), abs=0.015)
    assert graph.node("red block 2").position[:2] == pytest.approx((0.60, 0.15), abs=0.005)


def test_perceive_command_prints_the_graph_and_writes_the_run_folder(tmp_path, capsys):
    code = perceive_command(seed=3, source="rgbd", runs_dir=tmp_path, as_json=True, suite=None)
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    run = tmp_path / report["run_dir"].split("/")[-1]
    assert (run / "perception.png").stat().st_size > 10_000
    graph = json.loads((run / "scene_graph.json").read_text())
    assert len(graph["objects"]) == len(report["truth"])
    assert report["text"].startswith("objects (x, y and size in metres")


def test_perceive_command_reports_a_bad_source_in_one_line(tmp_path, capsys):
    code = perceive_command(seed=0, source="lidar", runs_dir=tmp_path, as_json=False, suite=None)
    assert code == 2
    err = capsys.readouterr().err
    assert "unknown object source 'lidar'" in err and len(err.strip().splitlines()) == 1
