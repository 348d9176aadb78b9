#!/usr/bin/env python3
"""Synthetic body-worn IMU windows from the motion-capture clips in the pybullet wheel (a series / text set).

The pybullet wheel on PyPI ships the DeepMimic humanoid motion clips (pybullet_data/data/motions/humanoid3d_*.txt
and walker/*.txt: JSON with Frames of [duration, root position (3), root rotation (w, x, y, z), chest, neck,
right hip, right knee (angle), right ankle, right shoulder, right elbow (angle), left hip, left knee, left
ankle, left shoulder, left elbow], y up) and the humanoid's URDF (pybullet_data/humanoid/humanoid.urdf, the
joint offsets, which the DeepMimic environment loads at globalScaling 0.25). Each clip is played through the
skeleton's forward kinematics and five virtual IMUs are read from it at 50 Hz:

  pelvis (root), wrist_l, wrist_r (end of the forearm, forearm orientation), ankle_l, ankle_r (at the ankle,
  shank orientation); each with acc_x/y/z (specific force in the sensor frame, m/s^2, gravity included:
  +9.81 up at rest) and gyr_x/y/z (angular velocity in the sensor frame, rad/s).

The clips are short (0.8 to 4.4 s, one cycle of a cyclic motion), so they are made into longer streams:
cyclic clips ("Loop": "wrap") are repeated with the cycle's own displacement and turn carried on (and the
small pose jump between last and first frame spread over the cycle, so the loop is seamless), kick and
punch are repeated with a 0.8 s return to the start pose, get-ups are played once between 1 s holds. Six
virtual subjects play every stream, each with its own speed (0.85 to 1.15), body scale (0.95 to 1.08), start
phase and sensor mounting (each IMU turned by up to 12 degrees). Windows of 2 s are cut every 0.5 s.

Split: subjects 5 and 6 are the test set. A split by time segment inside a stream would not hold test data
out: a looped stream repeats its single mocap cycle, so a later window equals an earlier one exactly. Test
windows come from other subjects (speeds, body sizes, mountings inside the training range) and no stream is
in both splits. Training windows have two augmented copies each (sensor noise, bias and per-sensor gain);
test windows are left clean.

Writes, under --out:
  windows/<activity>/<id>.csv   100 rows (time, 50 Hz) x 30 channel columns, with a header row
  train.csv, test.csv           series, text, activity, label, id, group (= activity: all windows of one
                                activity are the same item for retrieval), clip, subject, speed, body_scale,
                                start_s, augment, rate_hz
  classes.txt, class_prompts.txt  activity names in label order, and a caption for each (for zero-shot use)
  LICENSE.txt, READY

Standard library only; the wheel comes from PyPI with `pip download` (cached).
"""
import csv
import hashlib
import json
import math
import random
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
import zipfile
from bisect import bisect_right
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import common  # noqa: E402

NAME = "motion"
PYBULLET_VERSION = "3.2.7"
WHEEL_TAGS = ["--platform", "manylinux2014_x86_64", "--python-version", "3.11", "--implementation", "cp",
              "--abi", "cp311"]
URDF_SCALE = 0.25  # DeepMimic's environment loads humanoid.urdf with globalScaling=0.25
RATE = 50.0
WINDOW = 100  # samples: 2 s
STRIDE = 25  # samples: 0.5 s
GRAVITY = 9.81
ACC_RANGE = 16 * GRAVITY  # a typical body-worn IMU's ranges: +-16 g and +-2000 degrees/s
GYRO_RANGE = math.radians(2000)
SEED = 20240611
TRAIN_AUGMENTED_COPIES = 2
# subject -> (speed, body scale); subjects 5 and 6 are the test set
SUBJECTS = {1: (1.00, 1.00), 2: (0.85, 0.95), 3: (1.15, 1.05), 4: (0.92, 1.08), 5: (1.07, 0.97), 6: (0.95, 1.03)}
TEST_SUBJECTS = {5, 6}
STREAM_SECONDS = 8.0  # cyclic clips are repeated to at least this long (at speed 1)
REPEATS = 4  # kick and punch
RETURN_SECONDS = 0.8
MOUNT_DEGREES = 12.0

# clip file (without .txt) -> activity
CLIPS = {
    "humanoid3d_walk": "walk", "walker/0walk_forward": "walk",
    "walker/turn_left0": "turn_left", "walker/turn_left1": "turn_left",
    "walker/turn_right0": "turn_right", "walker/turn_right1": "turn_right",
    "humanoid3d_run": "run", "humanoid3d_jump": "jump", "humanoid3d_backflip": "backflip",
    "humanoid3d_cartwheel": "cartwheel", "humanoid3d_crawl": "crawl", "humanoid3d_dance_a": "dance",
    "humanoid3d_dance_b": "dance", "humanoid3d_getup_facedown": "getup_facedown",
    "humanoid3d_getup_faceup": "getup_faceup", "humanoid3d_kick": "kick", "humanoid3d_punch": "punch",
    "humanoid3d_roll": "roll", "humanoid3d_spin": "spin", "humanoid3d_spinkick": "spinkick",
}
# activity -> (present participle phrase, third person phrase)
PHRASES = {
    "walk": ("walking forward", "walks forward"),
    "turn_left": ("walking and turning left", "turns left while walking"),
    "turn_right": ("walking and turning right", "turns right while walking"),
    "run": ("running", "runs"),
    "jump": ("jumping forward", "jumps forward"),
    "backflip": ("doing a backflip", "performs a backflip"),
    "cartwheel": ("doing a cartwheel", "does a cartwheel"),
    "crawl": ("crawling on hands and knees", "crawls on all fours"),
    "dance": ("dancing", "dances"),
    "getup_facedown": ("getting up from lying face down", "gets up off the floor from lying face down"),
    "getup_faceup": ("getting up from lying on the back", "gets up off the floor from lying on their back"),
    "kick": ("kicking", "kicks"),
    "punch": ("punching", "throws punches"),
    "roll": ("rolling forward on the ground", "rolls forward on the ground"),
    "spin": ("spinning around", "spins around"),
    "spinkick": ("doing a spinning kick", "performs a spin kick"),
}
TEMPLATES = ["a person {ing}", "someone {s}", "a person is {ing}", "an adult {s}",
             "motion sensor readings of someone {ing}"]
SITES = ["pelvis", "wrist_l", "wrist_r", "ankle_l", "ankle_r"]
CHANNELS = [f"{site}_{kind}_{axis}" for site in SITES for kind in ("acc", "gyr") for axis in "xyz"]
SPHERICAL = ["chest", "neck", "right_hip", "right_ankle", "right_shoulder", "left_hip", "left_ankle",
             "left_shoulder"]
REVOLUTE = ["right_knee", "right_elbow", "left_knee", "left_elbow"]
# frame offsets of the spherical joints (w, x, y, z) and of the revolute angles
SPHERICAL_AT = [8, 12, 16, 21, 25, 30, 35, 39]
REVOLUTE_AT = [20, 29, 34, 43]


def log(message):
    common.log(NAME, message)


# ---------------------------------------------------------------- quaternions (w, x, y, z)

def qmul(a, b):
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return (aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw)


def qconj(q):
    return (q[0], -q[1], -q[2], -q[3])


def qnorm(q):
    n = math.sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3])
    if n < 1e-9:
        return (1.0, 0.0, 0.0, 0.0)
    return (q[0] / n, q[1] / n, q[2] / n, q[3] / n)


def qrot(q, v):
    w, x, y, z = q
    vx, vy, vz = v
    # v + 2 w (u x v) + 2 u x (u x v), u = (x, y, z)
    cx, cy, cz = y * vz - z * vy, z * vx - x * vz, x * vy - y * vx
    return (vx + 2 * (w * cx + y * cz - z * cy), vy + 2 * (w * cy + z * cx - x * cz),
            vz + 2 * (w * cz + x * cy - y * cx))


def qaxis(axis, angle):
    s = math.sin(angle / 2)
    return (math.cos(angle / 2), axis[0] * s, axis[1] * s, axis[2] * s)


def qlog(q):
    """The rotation vector (axis times angle, radians) of a unit quaternion, the short way round."""
    if q[0] < 0:
        q = (-q[0], -q[1], -q[2], -q[3])
    n = math.sqrt(q[1] * q[1] + q[2] * q[2] + q[3] * q[3])
    if n < 1e-12:
        return (2 * q[1], 2 * q[2], 2 * q[3])
    angle = 2 * math.atan2(n, q[0])
    return (q[1] / n * angle, q[2] / n * angle, q[3] / n * angle)


def qexp(v):
    angle = math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])
    if angle < 1e-12:
        return (1.0, v[0] / 2, v[1] / 2, v[2] / 2)
    return qaxis((v[0] / angle, v[1] / angle, v[2] / angle), angle)


def qpart(q, fraction):
    """The fraction of the rotation q (slerp from identity)."""
    v = qlog(q)
    return qexp((v[0] * fraction, v[1] * fraction, v[2] * fraction))


def heading(q):
    """The yaw about y (up) of the rotated x axis."""
    vx, _, vz = qrot(q, (1.0, 0.0, 0.0))
    return math.atan2(-vz, vx)


def yaw(angle):
    return qaxis((0.0, 1.0, 0.0), angle)


def wrap_angle(angle):
    return (angle + math.pi) % (2 * math.pi) - math.pi


# ---------------------------------------------------------------- poses

class Pose:
    """One skeleton pose: root position and rotation, the spherical joints' rotations, the revolute angles."""
    __slots__ = ("pos", "rot", "joints", "angles")

    def __init__(self, pos, rot, joints, angles):
        self.pos, self.rot, self.joints, self.angles = tuple(pos), qnorm(rot), [qnorm(q) for q in joints], list(angles)

    @staticmethod
    def of_frame(frame):
        return Pose(frame[1:4], frame[4:8], [frame[i:i + 4] for i in SPHERICAL_AT], [frame[i] for i in REVOLUTE_AT])

    def vector(self):
        values = list(self.pos) + list(self.rot)
        for q in self.joints:
            values += q
        return values + self.angles

    @staticmethod
    def of_vector(v):
        return Pose(v[0:3], v[3:7], [v[7 + 4 * j:11 + 4 * j] for j in range(len(SPHERICAL))], v[7 + 4 * len(SPHERICAL):])

    def moved(self, turn, origin, target):
        """The pose turned by `turn` radians about the vertical through `origin`, then moved to `target` (x, z)."""
        rel = (self.pos[0] - origin[0], self.pos[1], self.pos[2] - origin[1])
        x, y, z = qrot(yaw(turn), rel)
        return Pose((x + target[0], y, z + target[1]), qmul(yaw(turn), self.rot), self.joints, self.angles)


def read_clip(data):
    clip = json.loads(data)
    frames = clip["Frames"]
    if not frames or len(frames[0]) != 44:
        raise ValueError(f"expected frames of 44 values, found {len(frames[0]) if frames else 0}")
    durations = [frame[0] for frame in frames[:-1]]
    return clip.get("Loop", "none"), durations, [Pose.of_frame(frame) for frame in frames]


def seamless_cycle(durations, poses):
    """Spreads the pose jump between the last and the first frame over the cycle, so that it loops smoothly.

    Returns the corrected poses (the last equals the first, moved by the cycle's displacement and turn) and
    that turn.
    """
    first, last = poses[0], poses[-1]
    turn = wrap_angle(heading(last.rot) - heading(first.rot))
    root_fix = qmul(qmul(yaw(turn), first.rot), qconj(last.rot))
    joint_fix = [qmul(a, qconj(b)) for a, b in zip(first.joints, last.joints)]
    height_fix = first.pos[1] - last.pos[1]
    angle_fix = [a - b for a, b in zip(first.angles, last.angles)]
    total = sum(durations)
    result, elapsed = [], 0.0
    for index, pose in enumerate(poses):
        f = elapsed / total
        result.append(Pose((pose.pos[0], pose.pos[1] + f * height_fix, pose.pos[2]),
                           qmul(qpart(root_fix, f), pose.rot),
                           [qmul(qpart(fix, f), q) for fix, q in zip(joint_fix, pose.joints)],
                           [a + f * fix for a, fix in zip(pose.angles, angle_fix)]))
        if index < len(durations):
            elapsed += durations[index]
    return result, turn


def chain(pieces):
    """Joins (times, poses) pieces end to start: each piece is moved so that its first pose stands where the
    previous piece's last pose stood, facing its heading."""
    times, poses = [], []
    turn, target = 0.0, None
    for piece_times, piece_poses, gap in pieces:
        origin = (piece_poses[0].pos[0], piece_poses[0].pos[2])
        if target is None:
            target = origin
        offset = (times[-1] + gap) if times else 0.0
        moved = [pose.moved(turn, origin, target) for pose in piece_poses]
        times += [offset + t for t in piece_times]
        poses += moved
        last = moved[-1]
        turn = wrap_angle(turn + heading(piece_poses[-1].rot) - heading(piece_poses[0].rot))
        target = (last.pos[0], last.pos[2])
    return times, poses


def cumulative(durations):
    times = [0.0]
    for d in durations:
        times.append(times[-1] + d)
    return times


def build_stream(name, loop, durations, poses):
    """Keyframe times (s, at speed 1) and poses of the long stream made from one clip."""
    if loop == "wrap":
        cycle, _ = seamless_cycle(durations, poses)
        cycle_times = cumulative(durations)
        period = cycle_times[-1]
        cycles = max(2, math.ceil(STREAM_SECONDS / period)) + 1  # one more: the stream starts at a random phase
        step_turn = wrap_angle(heading(cycle[-1].rot) - heading(cycle[0].rot))
        origin = (cycle[0].pos[0], cycle[0].pos[2])
        times, stream, turn, target = [], [], 0.0, origin
        for i in range(cycles):
            keep = len(cycle) if i == cycles - 1 else len(cycle) - 1  # the last pose is the next cycle's first
            times += [i * period + t for t in cycle_times[:keep]]
            stream += [pose.moved(turn, origin, target) for pose in cycle[:keep]]
            end = cycle[-1].moved(turn, origin, target)
            target, turn = (end.pos[0], end.pos[2]), wrap_angle(turn + step_turn)
        return times, stream, period
    clip_times = cumulative(durations)
    if name.startswith("humanoid3d_getup"):
        hold = 1.0
        times = [0.0] + [hold + t for t in clip_times] + [hold + clip_times[-1] + hold]
        return times, [poses[0]] + poses + [poses[-1]], 0.0
    pieces = [([0.0, 0.5] + [0.5 + t for t in clip_times], [poses[0], poses[0]] + poses, 0.0)]
    pieces += [(clip_times, poses, RETURN_SECONDS)] * (REPEATS - 1)
    times, stream = chain(pieces)
    times.append(times[-1] + 0.5)
    stream.append(stream[-1])
    return times, stream, 0.0


class Spline:
    """Cubic Hermite interpolation of pose vectors (finite-difference tangents, any knot spacing)."""

    def __init__(self, times, poses):
        self.times = times
        vectors = [pose.vector() for pose in poses]
        # keep every quaternion on the side of its predecessor, so interpolation goes the short way
        for k in range(1, len(vectors)):
            for start in range(3, 3 + 4 * (1 + len(SPHERICAL)), 4):
                previous, current = vectors[k - 1][start:start + 4], vectors[k][start:start + 4]
                if sum(a * b for a, b in zip(previous, current)) < 0:
                    vectors[k][start:start + 4] = [-c for c in current]
        self.values = vectors
        n = len(times)
        self.tangents = []
        for k in range(n):
            lo, hi = max(0, k - 1), min(n - 1, k + 1)
            span = times[hi] - times[lo]
            self.tangents.append([(b - a) / span if span > 0 else 0.0 for a, b in zip(vectors[lo], vectors[hi])])

    def __call__(self, t):
        times = self.times
        k = min(max(bisect_right(times, t) - 1, 0), len(times) - 2)
        h = times[k + 1] - times[k]
        s = min(max((t - times[k]) / h, 0.0), 1.0) if h > 0 else 0.0
        s2, s3 = s * s, s * s * s
        h00, h10, h01, h11 = 2 * s3 - 3 * s2 + 1, s3 - 2 * s2 + s, -2 * s3 + 3 * s2, s3 - s2
        a, b, ma, mb = self.values[k], self.values[k + 1], self.tangents[k], self.tangents[k + 1]
        return Pose.of_vector([h00 * a[i] + h10 * h * ma[i] + h01 * b[i] + h11 * h * mb[i] for i in range(len(a))])


# ---------------------------------------------------------------- skeleton and sensors

def read_offsets(urdf_text):
    """joint name -> (parent link, offset from the parent joint, metres) from humanoid.urdf."""
    # the file as shipped ends in NUL padding, which XML does not allow
    root = ElementTree.fromstring(urdf_text.replace("\x00", ""))
    offsets = {}
    for joint in root.iter("joint"):
        origin = joint.find("origin")
        xyz = [float(v) * URDF_SCALE for v in origin.get("xyz").split()] if origin is not None else [0.0] * 3
        offsets[joint.get("name")] = (joint.find("parent").get("link"), tuple(xyz))
    needed = ["chest", "right_hip", "right_knee", "right_ankle", "right_shoulder", "right_elbow", "right_wrist",
              "left_hip", "left_knee", "left_ankle", "left_shoulder", "left_elbow", "left_wrist"]
    missing = [name for name in needed if name not in offsets]
    if missing:
        raise ValueError(f"humanoid.urdf lacks the joints {missing}")
    return offsets


def sensor_frames(pose, offsets, scale):
    """World position and orientation of each sensor site for one pose."""
    joint = dict(zip(SPHERICAL, pose.joints))
    angle = dict(zip(REVOLUTE, pose.angles))
    z = (0.0, 0.0, 1.0)

    def child(parent_pos, parent_rot, name, rotation):
        offset = offsets[name][1]
        p = qrot(parent_rot, (offset[0] * scale, offset[1] * scale, offset[2] * scale))
        return (parent_pos[0] + p[0], parent_pos[1] + p[1], parent_pos[2] + p[2]), qmul(parent_rot, rotation)

    root_pos = (pose.pos[0] * scale, pose.pos[1] * scale, pose.pos[2] * scale)
    root_rot = pose.rot
    chest_pos, chest_rot = child(root_pos, root_rot, "chest", joint["chest"])
    result = [(root_pos, root_rot)]
    for side in ("left", "right"):
        shoulder = child(chest_pos, chest_rot, f"{side}_shoulder", joint[f"{side}_shoulder"])
        elbow = child(*shoulder, f"{side}_elbow", qaxis(z, angle[f"{side}_elbow"]))
        wrist_pos, _ = child(*elbow, f"{side}_wrist", (1.0, 0.0, 0.0, 0.0))
        result.append((wrist_pos, elbow[1]))
    for side in ("left", "right"):
        hip = child(root_pos, root_rot, f"{side}_hip", joint[f"{side}_hip"])
        knee = child(*hip, f"{side}_knee", qaxis(z, angle[f"{side}_knee"]))
        ankle_pos, _ = child(*knee, f"{side}_ankle", (1.0, 0.0, 0.0, 0.0))
        result.append((ankle_pos, knee[1]))
    # order: pelvis, wrist_l, wrist_r, ankle_l, ankle_r
    return result


def imu_stream(spline, start, samples, speed, scale, mounts, offsets):
    """samples rows of 30 channels, acc (m/s^2) and gyro (rad/s) per site in its (mounted) sensor frame, and how
    many values were clipped to the sensor's range."""
    dt = 1.0 / RATE
    frames = [sensor_frames(spline((start + (i - 2) * dt) * speed), offsets, scale) for i in range(samples + 4)]
    rows = []
    for i in range(1, samples + 3):
        row = []
        for s in range(len(SITES)):
            p0, p1, p2 = frames[i - 1][s][0], frames[i][s][0], frames[i + 1][s][0]
            rot = qmul(frames[i][s][1], mounts[s])
            acc = [(p2[a] - 2 * p1[a] + p0[a]) / (dt * dt) for a in range(3)]
            acc[1] += GRAVITY
            acc = qrot(qconj(rot), acc)
            before, after = qmul(frames[i - 1][s][1], mounts[s]), qmul(frames[i + 1][s][1], mounts[s])
            omega = qlog(qmul(qconj(before), after))
            row += list(acc) + [w / (2 * dt) for w in omega]
        rows.append(row)
    # light low-pass [1 2 1]/4 on every channel, as an IMU's own filter would, then the sensor's range
    result, clipped = [], 0
    for i in range(1, samples + 1):
        row = []
        for c in range(len(rows[i])):
            value = (rows[i - 1][c] + 2 * rows[i][c] + rows[i + 1][c]) / 4
            limit = ACC_RANGE if (c // 3) % 2 == 0 else GYRO_RANGE
            if abs(value) > limit:
                clipped += 1
                value = math.copysign(limit, value)
            row.append(value)
        result.append(row)
    return result, clipped


# ---------------------------------------------------------------- wheel

def fetch_wheel(cache):
    directory = Path(cache) / "pypi"
    directory.mkdir(parents=True, exist_ok=True)
    found = sorted(directory.glob(f"pybullet-{PYBULLET_VERSION}-*.whl"))
    if found:
        return found[-1]
    log(f"downloading pybullet=={PYBULLET_VERSION} from PyPI (pip download, about 100 MB)")
    command = [sys.executable, "-m", "pip", "download", f"pybullet=={PYBULLET_VERSION}", "--no-deps",
               "--only-binary=:all:", *WHEEL_TAGS, "-d", str(directory), "--quiet"]
    result = subprocess.run(command, capture_output=True, text=True)
    found = sorted(directory.glob(f"pybullet-{PYBULLET_VERSION}-*.whl"))
    if result.returncode != 0 or not found:
        sys.exit(f"{NAME}: pip download pybullet=={PYBULLET_VERSION} failed (exit {result.returncode}):\n"
                 f"{result.stderr.strip()}\n  check that PyPI is reachable, or put the wheel into {directory}")
    return found[-1]


# ---------------------------------------------------------------- main

def up_to_date(out, recipe):
    """The summary of the last run when it used this script and wheel and all its files are there, else None."""
    stamp = out / ".recipe"
    if not stamp.is_file():
        return None
    lines = stamp.read_text().splitlines()
    if len(lines) != 2 or lines[0] != recipe or not (out / "classes.txt").is_file():
        return None
    for split in ("train", "test"):
        manifest = out / f"{split}.csv"
        if not manifest.is_file():
            return None
        with open(manifest, newline="", encoding="utf-8") as file:
            if not all((out / row["series"]).is_file() for row in csv.DictReader(file)):
                return None
    return lines[1]


def write_window(path, rows, augment, rng):
    if augment:
        noise_acc, noise_gyr = rng.uniform(0.05, 0.3), rng.uniform(0.01, 0.05)
        gains = [rng.uniform(0.9, 1.1) for _ in range(len(SITES) * 2)]
        biases = [rng.gauss(0, 0.1) if (c // 3) % 2 == 0 else rng.gauss(0, 0.02) for c in range(len(CHANNELS))]
        rows = [[(v * gains[c // 3] + biases[c] + rng.gauss(0, noise_acc if (c // 3) % 2 == 0 else noise_gyr))
                 for c, v in enumerate(row)] for row in rows]
    lines = [",".join(CHANNELS)]
    for row in rows:
        lines.append(",".join(f"{v:.2f}" if (c // 3) % 2 == 0 else f"{v:.3f}" for c, v in enumerate(row)))
    path.write_text("\n".join(lines) + "\n")
    return rows


def main():
    args = common.parse_args(__doc__.splitlines()[0])
    started = time.time()
    out = args.out
    (out / "READY").unlink(missing_ok=True)

    wheel = fetch_wheel(args.cache)
    recipe = hashlib.sha256(Path(__file__).read_bytes() + wheel.name.encode()).hexdigest()
    summary = up_to_date(out, recipe)
    if summary:
        common.write_ready(out, summary)
        log(f"up to date (same script and wheel): {summary}; {time.time() - started:.1f} s")
        return
    (out / ".recipe").unlink(missing_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        offsets = read_offsets(archive.read("pybullet_data/humanoid/humanoid.urdf").decode("utf-8"))
        clips = {}
        for clip in CLIPS:
            member = f"pybullet_data/data/motions/{clip}.txt"
            if member not in names:
                sys.exit(f"{NAME}: {wheel.name} has no {member}; the clips it has: "
                         f"{sorted(n for n in names if '/motions/' in n and n.endswith('.txt'))}")
            try:
                clips[clip] = read_clip(archive.read(member))
            except (ValueError, KeyError, TypeError) as error:
                sys.exit(f"{NAME}: {wheel.name}: {member}: {error}")
        unused = sorted(n for n in names if "/motions/" in n and n.endswith(".txt")
                        and n[len("pybullet_data/data/motions/"):-4] not in CLIPS)
        licence = archive.read("pybullet-%s.dist-info/LICENSE.txt" % PYBULLET_VERSION).decode("utf-8", "replace") \
            if f"pybullet-{PYBULLET_VERSION}.dist-info/LICENSE.txt" in names else "(zlib licence; file not found)"
    log(f"{len(clips)} clips from {wheel.name}; not used: {[n.rsplit('/', 1)[-1] for n in unused]} (not the humanoid)")

    windows_dir = out / "windows"
    shutil.rmtree(windows_dir, ignore_errors=True)
    activities = sorted(set(CLIPS.values()))
    labels = {activity: index for index, activity in enumerate(activities)}
    rng = random.Random(SEED)
    rows = {"train": [], "test": []}
    streams = {}
    for clip, (loop, durations, poses) in clips.items():
        streams[clip] = build_stream(clip.rsplit("/", 1)[-1], loop, durations, poses)
    peaks = {activity: [0.0, 0.0] for activity in activities}
    saturated = {activity: [0, 0] for activity in activities}
    for subject, (speed, scale) in SUBJECTS.items():
        split = "test" if subject in TEST_SUBJECTS else "train"
        subject_rng = random.Random(SEED * 100 + subject)
        mounts = []
        for _ in SITES:
            axis = [subject_rng.gauss(0, 1) for _ in range(3)]
            norm = math.sqrt(sum(a * a for a in axis))
            mounts.append(qaxis([a / norm for a in axis], math.radians(subject_rng.uniform(-1, 1) * MOUNT_DEGREES)))
        for clip, (times, stream, period) in streams.items():
            activity = CLIPS[clip]
            spline = Spline(times, stream)
            phase = subject_rng.uniform(0, period) if period else 0.0
            samples = int((times[-1] - phase) / speed * RATE) - 4
            count = (samples - WINDOW) // STRIDE + 1
            if count < 1:
                log(f"{clip}: too short for one window at subject {subject}")
                continue
            signal, clipped = imu_stream(spline, phase / speed + 2 / RATE, (count - 1) * STRIDE + WINDOW, speed, scale,
                                mounts, offsets)
            saturated[activity][0] += clipped
            saturated[activity][1] += len(signal) * len(CHANNELS)
            folder = windows_dir / activity
            folder.mkdir(parents=True, exist_ok=True)
            for w in range(count):
                window = signal[w * STRIDE:w * STRIDE + WINDOW]
                copies = 1 + (TRAIN_AUGMENTED_COPIES if split == "train" else 0)
                for augment in range(copies):
                    window_id = f"{clip.rsplit('/', 1)[-1]}-s{subject}-w{w:02d}" + (f"-a{augment}" if augment else "")
                    path = folder / f"{window_id}.csv"
                    written = write_window(path, window, augment, rng)
                    if not augment:
                        for c, v in enumerate(CHANNELS):
                            if "_acc_" in v:
                                peaks[activity][0] = max(peaks[activity][0], max(abs(r[c]) for r in written))
                            else:
                                peaks[activity][1] = max(peaks[activity][1], max(abs(r[c]) for r in written))
                    ing, third = PHRASES[activity]
                    template = TEMPLATES[(w + subject + augment) % len(TEMPLATES)]
                    rows[split].append({
                        "series": path.relative_to(out).as_posix(), "text": template.format(ing=ing, s=third),
                        "activity": activity, "label": labels[activity], "id": window_id, "group": activity,
                        "clip": clip, "subject": subject, "speed": speed, "body_scale": scale,
                        "start_s": f"{w * STRIDE / RATE:.2f}", "augment": augment, "rate_hz": int(RATE),
                    })
        log(f"subject {subject} ({split}, speed {speed}, body scale {scale}): "
            f"{sum(1 for r in rows[split] if r['subject'] == subject)} windows")
    fields = ["series", "text", "activity", "label", "id", "group", "clip", "subject", "speed", "body_scale",
              "start_s", "augment", "rate_hz"]
    for split, split_rows in rows.items():
        common.write_csv(out / f"{split}.csv", fields, split_rows)
    common.write_lines(out / "classes.txt", activities)
    common.write_lines(out / "class_prompts.txt", [f"a person {PHRASES[a][0]}" for a in activities])
    common.write_license(out, [(f"pybullet {PYBULLET_VERSION}, PyPI, zlib licence", "\n".join([
        f"Motion clips and humanoid model from the wheel {wheel.name}: pybullet_data/data/motions/*.txt",
        "and pybullet_data/humanoid/humanoid.urdf (the DeepMimic humanoid motion clips, X. B. Peng et al.",
        "2018, as shipped with Bullet Physics). The IMU windows here are derived from them by",
        "scripts/data/motion.py. The wheel's LICENSE.txt:", "", licence]))])
    size = common.megabytes(windows_dir)
    per_activity = {a: sum(1 for r in rows["train"] + rows["test"] if r["activity"] == a) for a in activities}
    summary = (f"{len(rows['train'])} train + {len(rows['test'])} test windows (2 s, 50 Hz, {len(CHANNELS)} channels)"
               f" of {len(activities)} activities from {len(clips)} clips, {len(SUBJECTS)} virtual subjects, "
               f"{size:.1f} MB")
    common.write_text(out / ".recipe", f"{recipe}\n{summary}\n")
    common.write_ready(out, summary)
    log("windows per activity: " + ", ".join(f"{a} {n}" for a, n in per_activity.items()))
    log("peak |acc| m/s^2, |gyro| rad/s per activity: "
        + ", ".join(f"{a} {p[0]:.0f}/{p[1]:.0f}" for a, p in peaks.items()))
    clipped, total = (sum(v[0] for v in saturated.values()), sum(v[1] for v in saturated.values()))
    log(f"{clipped} of {total} values ({100 * clipped / max(1, total):.3f}%) clipped to the sensor range (+-16 g, "
        f"+-2000 deg/s): " + ", ".join(f"{a} {100 * v[0] / v[1]:.2f}%" for a, v in saturated.items() if v[0]))
    log(f"{summary}; {time.time() - started:.1f} s")


if __name__ == "__main__":
    main()
