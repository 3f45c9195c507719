"""The ``git-repo`` step type: clones a repository (url, ref, depth, submodules, a token from the environment)
with the system git, and exposes the checkout as an artifact plus ``sha`` and ``ref`` outputs."""

from wfe_yaml.git.commands import GitRepoError
from wfe_yaml.git.config import GitRepoConfig
from wfe_yaml.git.masking import mask_url
from wfe_yaml.git.step import GitRepoStep, GitRepoStepType

__all__ = ["GitRepoConfig", "GitRepoError", "GitRepoStep", "GitRepoStepType", "mask_url"]
