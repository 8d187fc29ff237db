"""kubetune's resource models: the single schema source for CRDs, operator, runtime and facade."""

from kubetune.crd.base import API_VERSION, GROUP, VERSION, CamelModel, Condition
from kubetune.crd.dataset import DatasetSpec, DatasetStatus
from kubetune.crd.inferenceservice import InferenceServiceSpec, InferenceServiceStatus
from kubetune.crd.kinds import ALL_KINDS, DATASET, INFERENCE_SERVICE, TRAINER, TRAINING, Kind
from kubetune.crd.trainer import TrainerSpec, TrainerStatus
from kubetune.crd.training import TrainingSpec, TrainingStatus

__all__ = [
    "ALL_KINDS",
    "API_VERSION",
    "DATASET",
    "GROUP",
    "INFERENCE_SERVICE",
    "TRAINER",
    "TRAINING",
    "VERSION",
    "CamelModel",
    "Condition",
    "DatasetSpec",
    "DatasetStatus",
    "InferenceServiceSpec",
    "InferenceServiceStatus",
    "Kind",
    "TrainerSpec",
    "TrainerStatus",
    "TrainingSpec",
    "TrainingStatus",
]
