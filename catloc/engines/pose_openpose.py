"""Body keypoints with the OpenPose body model of ControlNet's annotator (``controlnet_aux``).

Needs ``body_pose_model.pth`` (about 200 MiB, from the ``lllyasviel/Annotators`` repository) in
``model_dir``; the hand and face models are not used. The weights are CMU's OpenPose, licensed
for non-commercial use only: without them, poses come from the human-parsing masks
(:func:`catloc.pose.keypoints_from_parsing`). Options: ``model_dir``, ``device`` (``auto`` |
``cpu`` | ``cuda``), ``detect_side`` (the photo's longer side at detection, px; 512).
"""
from __future__ import annotations

import os
import threading

import numpy as np

from catloc.engines.base import EngineLoadError
from catloc.imaging import resize_longest
from catloc.pose import empty_pose

BODY_FILE = "body_pose_model.pth"
_HOW = (f"copy {BODY_FILE} from the lllyasviel/Annotators repository (a machine with internet: "
        f"huggingface_hub.hf_hub_download('lllyasviel/Annotators', '{BODY_FILE}')) into it; its licence (CMU "
        "OpenPose) allows non-commercial use only. Without a pose engine, poses come from the parsing masks")


class OpenposeBodyEstimator:
    name = "openpose"

    def __init__(self, model_dir: str | None = None, device: str = "auto", detect_side: int = 512):
        if not model_dir:
            raise EngineLoadError(f"openpose pose: engines.pose.options.model_dir is not set; it must be a folder "
                                  f"holding {BODY_FILE}: {_HOW}")
        path = os.path.join(os.path.abspath(os.path.expanduser(str(model_dir))), BODY_FILE)
        if not os.path.isfile(path):
            raise EngineLoadError(f"openpose pose: {os.path.dirname(path)} has no {BODY_FILE}: {_HOW}")
        try:
            import torch
            from controlnet_aux.open_pose.body import Body

            if device == "auto":
                device = "cuda" if torch.cuda.is_available() else "cpu"
            self._body = Body(path).to(device)
        except Exception as exc:  # torch.load / load_state_dict raise many kinds for a bad file
            raise EngineLoadError(f"openpose pose: cannot load {path}: {type(exc).__name__}: {exc}") from None
        self.detect_side = int(detect_side)
        self._lock = threading.Lock()

    def keypoints(self, image: np.ndarray) -> np.ndarray | None:
        """The highest-scoring person's 18 body keypoints in ``image`` (RGB uint8 (H, W, 3)), in its
        px (see :class:`catloc.engines.base.PoseEstimator`); None when nobody is found."""
        small, scale = resize_longest(image, self.detect_side)
        with self._lock:
            candidate, subset = self._body(np.ascontiguousarray(small[:, :, ::-1]))  # the model reads BGR
        bodies = self._body.format_body_result(candidate, subset)
        if not bodies:
            return None
        best = max(bodies, key=lambda body: body.total_score)
        pose = empty_pose()
        for i, point in enumerate(best.keypoints):
            if point is not None:
                pose[i] = (point.x / scale, point.y / scale)
        return pose
