"""Each method's published training recipe: the optimizer, the schedule and the views its
paper states, with the source. ``--method NAME`` trains with NAME's recipe (see
``infomax.config.make_config`` for how it meets a preset, a config file and overrides).

Schedules are given in the paper's epochs with ``optim.schedule_epochs`` set to the paper's
training length: a run of another ``train.epochs`` scales the warmup and the milestones in
proportion (a 2-epoch run of SimCLR warms up over 0.2 epochs, as SimCLR's 100-epoch runs
warm up over 10). Rates given per batch size (``optim.lr_batch``) are scaled to the run's
global batch. Settings a paper gives that these views cannot express are named in the
recipe's ``note``.

AMDIM's recipe is the config's defaults (Adam, lr 2e-4, betas 0.8/0.999, weight decay
1e-5, warmup, step decay; AMDIM's views), so it has no entry here.
"""

from __future__ import annotations

from typing import Any

from infomax.config import Recipe

_CROP = {"crop": "resized", "crop_ratio": [0.75, 4 / 3], "flip_shared": False, "flip_p": 0.5}
# SimCLR's color distortion at strength s = 1: jitter (0.8s, 0.8s, 0.8s, 0.2s) with p 0.8,
# grayscale with p 0.2; also SwAV's (get_color_distortion(s=1.0) in its code).
_SIMCLR_COLOR = {"jitter": [0.8, 0.8, 0.8, 0.2], "jitter_strength": 1.0, "jitter_p": 0.8,
                 "grayscale_p": 0.2}
_BLUR = {"blur_p": 0.5, "blur_sigma": [0.1, 2.0]}
# MoCo v1 and InstDisc: ColorJitter(0.4, 0.4, 0.4, 0.4) always, RandomGrayscale(0.2).
_INSTDISC_COLOR = {"jitter": [0.4, 0.4, 0.4, 0.4], "jitter_strength": 1.0, "jitter_p": 1.0,
                   "grayscale_p": 0.2}
_NO_WARMUP = {"warmup_steps": 0, "warmup_epochs": None}

SIMCLR = Recipe(
    source="Chen et al. 2020 (SimCLR), Sec. 4 and App. A, B.1: LARS at 0.3 x B/256, weight "
           "decay 1e-6, 10 warmup epochs of 100 then cosine; crop 0.08-1, color distortion "
           "s = 1 (p 0.8), grayscale 0.2, blur 0.5",
    optim={"name": "lars", "lr": 0.3, "lr_batch": 256, "lr_scaling": "linear",
           "momentum": 0.9, "weight_decay": 1e-6, "exclude_bias_norm": True,
           "schedule": "cosine", "warmup_steps": 0, "warmup_epochs": 10,
           "schedule_epochs": 100},
    views={**_CROP, "crop_scale": [0.08, 1.0], **_SIMCLR_COLOR, **_BLUR})

MOCO_V1 = Recipe(
    source="He et al. 2020 (MoCo), Sec. 4 and its code: SGD at 0.03, momentum 0.9, weight "
           "decay 1e-4, x0.1 at epochs 120 and 160 of 200; crop 0.2-1, jitter 0.4 (always), "
           "grayscale 0.2",
    optim={"name": "sgd", "lr": 0.03, "momentum": 0.9, "weight_decay": 1e-4,
           "schedule": "multistep", "milestones": [120, 160], "gamma": 0.1, **_NO_WARMUP,
           "schedule_epochs": 200},
    views={**_CROP, "crop_scale": [0.2, 1.0], **_INSTDISC_COLOR})

MOCO_V2 = Recipe(
    source="Chen et al. 2020 (MoCo v2), Sec. 2-3: SGD at 0.03, momentum 0.9, weight decay "
           "1e-4, cosine over 200 epochs; crop 0.2-1, jitter (0.4, 0.4, 0.4, 0.1) p 0.8, "
           "grayscale 0.2, blur 0.5",
    optim={"name": "sgd", "lr": 0.03, "momentum": 0.9, "weight_decay": 1e-4,
           "schedule": "cosine", **_NO_WARMUP, "schedule_epochs": 200},
    views={**_CROP, "crop_scale": [0.2, 1.0], "jitter": [0.4, 0.4, 0.4, 0.1],
           "jitter_strength": 1.0, "jitter_p": 0.8, "grayscale_p": 0.2, **_BLUR})


def moco(data: dict[str, Any]) -> Recipe:
    """MoCo v1's recipe or v2's, as ``moco.version`` says (v2 by default)."""
    version = (data.get("moco") or {}).get("version", "v2")
    return MOCO_V1 if version == "v1" else MOCO_V2


BYOL = Recipe(
    source="Grill et al. 2020 (BYOL), Sec. 3.3 and App. B, C: LARS at 0.2 x B/256, weight "
           "decay 1.5e-6, 10 warmup epochs of 1000 then cosine; crop 0.08-1, jitter (0.4, "
           "0.4, 0.2, 0.1) p 0.8, grayscale 0.2, blur 1.0 / 0.1, solarize 0 / 0.2",
    optim={"name": "lars", "lr": 0.2, "lr_batch": 256, "lr_scaling": "linear",
           "momentum": 0.9, "weight_decay": 1.5e-6, "exclude_bias_norm": True,
           "schedule": "cosine", "warmup_steps": 0, "warmup_epochs": 10,
           "schedule_epochs": 1000},
    views={**_CROP, "crop_scale": [0.08, 1.0], "jitter": [0.4, 0.4, 0.2, 0.1],
           "jitter_strength": 1.0, "jitter_p": 0.8, "grayscale_p": 0.2,
           "blur_sigma": [0.1, 2.0],
           "first": {"blur_p": 1.0, "solarize_p": 0.0},
           "second": {"blur_p": 0.1, "solarize_p": 0.2}})

INSTDISC = Recipe(
    source="Wu et al. 2018 (instance discrimination), Sec. 4 and its code: SGD at 0.03, "
           "momentum 0.9, weight decay 5e-4, x0.1 at epochs 120 and 160 of 200; crop 0.2-1, "
           "jitter 0.4 (always), grayscale 0.2",
    optim={"name": "sgd", "lr": 0.03, "momentum": 0.9, "weight_decay": 5e-4,
           "schedule": "multistep", "milestones": [120, 160], "gamma": 0.1, **_NO_WARMUP,
           "schedule_epochs": 200},
    views={**_CROP, "crop_scale": [0.2, 1.0], **_INSTDISC_COLOR})

CMC = Recipe(
    source="Tian et al. 2019 (CMC), Sec. 4 and its code: SGD at 0.03, momentum 0.9, weight "
           "decay 1e-4, x0.1 at epochs 120, 160 and 200 of 240; crop 0.2-1 and flip, no "
           "color augmentation (the views are the L and ab channels)",
    optim={"name": "sgd", "lr": 0.03, "momentum": 0.9, "weight_decay": 1e-4,
           "schedule": "multistep", "milestones": [120, 160, 200], "gamma": 0.1,
           **_NO_WARMUP, "schedule_epochs": 240},
    views={**_CROP, "crop_scale": [0.2, 1.0], "jitter_p": 0.0, "grayscale_p": 0.0})

DIM = Recipe(
    source="Hjelm et al. 2019 (DIM), Sec. 4: Adam at 1e-4 for the whole run (no weight "
           "decay, warmup or decay is stated); the views are the run's (AMDIM's)",
    optim={"name": "adam", "lr": 1e-4, "betas": [0.9, 0.999], "weight_decay": 0.0,
           "schedule": "multistep", "milestones": [], **_NO_WARMUP},
    note="DIM's paper states its optimizer and rate only; the views keep AMDIM's")

SWAV = Recipe(
    source="Caron et al. 2020 (SwAV), App. A and its 800-epoch script: LARS at 4.8 for "
           "batch 4096 (0.3 x B/256), weight decay 1e-6, 10 warmup epochs from 0.3 then "
           "cosine to 0.0048; 2 crops at scale 0.14-1 and 6 of 96 px at 0.05-0.14, color "
           "distortion s = 1, blur 0.5",
    optim={"name": "lars", "lr": 4.8, "lr_batch": 4096, "lr_scaling": "linear",
           "momentum": 0.9, "weight_decay": 1e-6, "exclude_bias_norm": False,
           "schedule": "cosine", "final_lr_ratio": 0.001, "warmup_steps": 0,
           "warmup_epochs": 10, "warmup_from": 0.0625, "schedule_epochs": 800},
    views={**_CROP, "crop_scale": [0.14, 1.0], **_SIMCLR_COLOR, **_BLUR},
    note="SwAV's multi-crop is the swav.* settings: swav.large_crops (2: the two views, "
         "at data.image_size and views.crop_scale 0.14-1) and swav.small_crops (6) of "
         "swav.small_size px (default data.image_size x 96/224 where the encoder takes "
         "it, else data.image_size) at swav.small_scale 0.05-0.14, with the views' color "
         "settings")

# CPC v2 (Henaff et al. 2020) trains with patches and its own patch augmentations (color
# dropping), which the views here cannot express, and its optimizer settings could not be
# checked against the paper: CPC keeps AMDIM's recipe (the defaults), and says so.
CPC_NOTE = ("CPC v2's patch augmentations and optimizer settings are not reproduced: cpc "
            "trains with AMDIM's recipe")
