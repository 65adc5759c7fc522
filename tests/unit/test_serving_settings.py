"""The functions' one settings object: names from DESIGN.md, defaults, validation."""

import pytest

from functions.settings import DEFAULT_UPLOAD_CHUNK_BYTES, Settings, SettingsError

pytestmark = pytest.mark.unit

REQUIRED = {"MODEL_BUCKET": "models-bucket", "DATA_BUCKET": "data-bucket"}


def test_defaults_follow_the_contract():
    settings = Settings.from_environ(REQUIRED)

    assert settings.model_prefix == "models/"
    assert settings.model_refresh_seconds == 60
    assert settings.jobs_queue_url is None and settings.uploads_queue_url is None
    assert settings.upload_chunk_bytes == DEFAULT_UPLOAD_CHUNK_BYTES


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_a_missing_bucket_is_named(missing):
    environ = {name: value for name, value in REQUIRED.items() if name != missing}

    with pytest.raises(SettingsError, match=missing):
        Settings.from_environ(environ)


@pytest.mark.parametrize("given, expected", [("models", "models/"), ("/team/models/", "team/models/"), ("", "models/")])
def test_the_model_prefix_always_ends_with_one_slash(given, expected):
    assert Settings.from_environ({**REQUIRED, "MODEL_PREFIX": given}).model_prefix == expected


def test_numbers_are_parsed_and_checked():
    settings = Settings.from_environ({**REQUIRED, "MODEL_REFRESH_SECONDS": "0.5", "UPLOAD_CHUNK_BYTES": "4096"})
    assert (settings.model_refresh_seconds, settings.upload_chunk_bytes) == (0.5, 4096)

    with pytest.raises(SettingsError, match="MODEL_REFRESH_SECONDS"):
        Settings.from_environ({**REQUIRED, "MODEL_REFRESH_SECONDS": "soon"})
    with pytest.raises(SettingsError, match="UPLOAD_CHUNK_BYTES"):
        Settings.from_environ({**REQUIRED, "UPLOAD_CHUNK_BYTES": "10"})
