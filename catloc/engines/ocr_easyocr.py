"""Text detection with EasyOCR (CRAFT detector + CRNN recognizer, PyTorch).

Needs the weights in a local directory (``model_dir``); nothing is downloaded unless
``download: true``. The directory must hold the CRAFT detector ``craft_mlt_25k.pth`` and the
recognition model easyocr picks for ``languages`` (``ch_sim`` + ``en`` -> ``zh_sim_g2.pth``,
``en`` -> ``english_g2.pth``, ``ja`` -> ``japanese_g2.pth``, ...; see
:func:`expected_model_files`). Copy them from ``~/.EasyOCR/model`` on a machine where easyocr
has run once with internet access. easyocr checks each file's MD5 against the release it
expects, so the files must come from that release unchanged.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Sequence

import cv2
import numpy as np

from catloc.engines.base import EngineLoadError, TextRegion

DETECT_NETWORK = "craft"


def _recognition_model_key(languages: Sequence[str]) -> str:
    """The key in ``easyocr.config.recognition_models`` that ``easyocr.Reader`` auto-selects for
    ``languages`` (recog_network='standard'). Mirrors the selection order of
    ``Reader.__init__`` (easyocr 1.7.2); tests cross-check it against the Reader itself."""
    from easyocr import config as C

    langs = list(languages)
    unknown = sorted(set(langs) - set(C.all_lang_list))
    if unknown:
        raise EngineLoadError(f"easyocr engine: unsupported language(s) {unknown} "
                              f"(engines.ocr.options.languages)")
    if langs == ["en"]:
        return "english_g2"
    # (languages that trigger the model, model key, languages that model can be combined with)
    rules: list[tuple[list[str], str, list[str]]] = [
        (["th"], "thai_g1", ["th", "en"]),
        (["ch_tra"], "zh_tra_g1", ["ch_tra", "en"]),
        (["ch_sim"], "zh_sim_g2", ["ch_sim", "en"]),
        (["ja"], "japanese_g2", ["ja", "en"]),
        (["ko"], "korean_g2", ["ko", "en"]),
        (["ta"], "tamil_g1", ["ta", "en"]),
        (["te"], "telugu_g2", ["te", "en"]),
        (["kn"], "kannada_g2", ["kn", "en"]),
        (C.bengali_lang_list, "bengali_g1", C.bengali_lang_list + ["en"]),
        (C.arabic_lang_list, "arabic_g1", C.arabic_lang_list + ["en"]),
        (C.devanagari_lang_list, "devanagari_g1", C.devanagari_lang_list + ["en"]),
        (C.cyrillic_lang_list, "cyrillic_g2", C.cyrillic_lang_list + ["en"]),
    ]
    for trigger, key, compatible in rules:
        if set(langs) & set(trigger):
            extra = sorted(set(langs) - set(compatible))
            if extra:
                raise EngineLoadError(
                    f"easyocr engine: languages {langs} cannot be read by one model: {key} "
                    f"reads only {compatible}; remove {extra} from engines.ocr.options.languages")
            return key
    return "latin_g2"


def recognition_model(languages: Sequence[str]) -> tuple[str, dict]:
    """(generation, entry) from ``easyocr.config.recognition_models`` for ``languages``;
    generation is ``"gen1"`` or ``"gen2"``, the entry holds ``filename``, ``characters`` etc."""
    from easyocr import config as C

    key = _recognition_model_key(languages)
    for generation, models in C.recognition_models.items():
        if key in models:
            return generation, models[key]
    raise EngineLoadError(f"easyocr engine: this easyocr has no recognition model {key!r}")


def expected_model_files(languages: Sequence[str]) -> list[str]:
    """File names easyocr loads from ``model_dir`` for ``languages``: detector, recognizer."""
    from easyocr import config as C

    return [C.detection_models[DETECT_NETWORK]["filename"],
            recognition_model(languages)[1]["filename"]]


class EasyOCRDetector:
    name = "easyocr"

    def __init__(self, model_dir: str | None = None, languages: Sequence[str] = ("ch_sim", "en"),
                 min_score: float = 0.3, download: bool = False, gpu: bool = False):
        try:
            import easyocr
        except ImportError as exc:  # pragma: no cover - dependency of the package
            raise EngineLoadError(f"easyocr engine: cannot import easyocr ({exc})") from None
        if isinstance(languages, str):
            languages = [languages]
        self.languages = list(languages)
        self.min_score = float(min_score)
        files = expected_model_files(self.languages)
        how = (f"copy {' and '.join(files)} from a machine with internet access "
               f"(~/.EasyOCR/model after one easyocr run with languages {self.languages}) into "
               f"that directory, or set engines.ocr.options.model_dir to a directory that has them")
        if not model_dir:
            raise EngineLoadError(
                f"easyocr engine: engines.ocr.options.model_dir is not set; it must be a local "
                f"directory holding {', '.join(files)}: {how}")
        model_dir = os.path.abspath(os.path.expanduser(str(model_dir)))
        if not download:
            if not os.path.isdir(model_dir):
                raise EngineLoadError(
                    f"easyocr engine: model_dir {model_dir} does not exist (needs "
                    f"{', '.join(files)}): {how}")
            missing = [f for f in files if not os.path.isfile(os.path.join(model_dir, f))]
            if missing:
                raise EngineLoadError(
                    f"easyocr engine: model_dir {model_dir} is missing {', '.join(missing)} "
                    f"(needed for languages {self.languages}): {how}")
        try:
            # user_network_directory: keep easyocr from creating ~/.EasyOCR/user_network
            self._reader = easyocr.Reader(self.languages, gpu=gpu, model_storage_directory=model_dir,
                                          user_network_directory=model_dir,
                                          download_enabled=bool(download), verbose=False)
        except FileNotFoundError as exc:  # easyocr: missing file, or MD5 mismatch, downloads off
            raise EngineLoadError(
                f"easyocr engine: {exc}. A file that exists but fails easyocr's MD5 check is a "
                f"partial copy or from another easyocr release: {how}") from None
        except (ValueError, RuntimeError, OSError) as exc:
            raise EngineLoadError(f"easyocr engine: cannot load models from {model_dir}: {exc}") from None
        self.model_dir = model_dir
        self._lock = threading.Lock()  # one Reader (torch modules) shared by all threads

    def detect(self, image: np.ndarray) -> list[TextRegion]:
        rgb = np.ascontiguousarray(image)
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        with self._lock:
            # the CRAFT detector wants RGB, the recognizer greyscale (readtext() would take
            # an array as BGR), so run the two stages directly
            horizontal, free = self._reader.detect(rgb, reformat=False)
            result = self._reader.recognize(grey, horizontal[0], free[0], reformat=False)
        return self._regions(result)

    def find(self, image: np.ndarray) -> list[np.ndarray]:
        with self._lock:
            horizontal, free = self._reader.detect(np.ascontiguousarray(image), reformat=False)
        boxes = [np.float32([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]) for x0, x1, y0, y1 in horizontal[0]]
        return boxes + [np.asarray(p, np.float32).reshape(-1, 2) for p in free[0]]

    def read(self, image: np.ndarray, polygons: list[np.ndarray]) -> list[TextRegion]:
        if not polygons:
            return []
        grey = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
        free = [np.asarray(p, np.float32).reshape(-1, 2).tolist() for p in polygons]
        with self._lock:
            result = self._reader.recognize(grey, [], free, reformat=False)
        return self._regions(result)

    def _regions(self, result) -> list[TextRegion]:
        return [TextRegion(np.asarray(box, dtype=np.float32).reshape(-1, 2), str(text), float(score))
                for box, text, score in result if float(score) >= self.min_score]
