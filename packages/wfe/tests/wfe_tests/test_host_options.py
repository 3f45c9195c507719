"""HostOptions is a validated, frozen model: wrong types and out-of-range values are refused when the options
are given (``with_options``), naming the option and the fix; durations take a timedelta or seconds."""

from __future__ import annotations

from datetime import timedelta

import pytest

from wfe import ConfigurationError, HostOptions, WfeError, WorkflowHostBuilder

REFUSED = [
    # (option, value, what the message says besides the option's name)
    ("poll_interval", -5, "a duration longer than zero"),
    ("poll_interval", 0, "a duration longer than zero"),
    ("poll_interval", timedelta(seconds=-1), "a duration longer than zero"),
    ("poll_interval", "10s", "a timedelta, or a number of seconds"),
    ("lock_ttl", None, "a timedelta, or a number of seconds"),
    ("lock_ttl", float("nan"), "a timedelta, or a number of seconds"),
    ("lock_ttl", True, "a timedelta, or a number of seconds"),
    ("activity_lease", -1.5, "a duration longer than zero"),
    ("missing_definition_backoff", 0, "a duration longer than zero"),
    ("retention", timedelta(seconds=-1), "a duration of zero or more"),
    ("purge_interval", "hourly", "a timedelta, or a number of seconds"),
    ("stop_timeout", -1, "a duration of zero or more"),
    ("max_concurrent_workflows", 0, "a whole number of at least 1"),
    ("max_concurrent_workflows", 2.5, "a whole number of at least 1"),
    ("max_concurrent_workflows", "16", "a whole number of at least 1"),
    ("max_concurrent_events", -3, "a whole number of at least 1"),
    ("max_passes_per_lease", True, "a whole number of at least 1"),
    ("index_retry_max", -1, "a whole number of at least 0"),
    ("idle_time", 0, "a number of seconds longer than zero"),
    ("idle_time", "fast", "a number of seconds longer than zero"),
    ("start_locally", "yes", "True or False"),
    ("publish_locally", 1, "True or False"),
    ("accept", "mine", "a function of a stored instance"),
]


@pytest.mark.parametrize(("option", "value", "must"), REFUSED)
def test_a_wrong_option_is_refused_by_with_options_naming_it(option, value, must):
    builder = WorkflowHostBuilder()
    with pytest.raises(ConfigurationError) as caught:
        builder.with_options(**{option: value})
    message = str(caught.value)
    assert message.startswith(f"HostOptions.{option} must be "), message
    assert must in message, message
    assert repr(value) in message, message
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, WfeError)
    # Nothing of the refused call is kept: the builder still builds with its defaults.
    assert builder.build().options == HostOptions()


def test_a_fix_is_named_with_an_example():
    with pytest.raises(ConfigurationError, match=r"give e\.g\. poll_interval=timedelta\(seconds=30\)"):
        HostOptions(poll_interval=-5)


def test_an_unknown_option_is_refused_listing_the_options():
    with pytest.raises(
        ConfigurationError, match=r"HostOptions has no option 'lock_tll': the options are .*lock_ttl"
    ):
        WorkflowHostBuilder().with_options(lock_tll=timedelta(seconds=30))


def test_the_backoff_maximum_must_not_be_below_the_first_backoff():
    with pytest.raises(ConfigurationError, match="missing_definition_backoff_max"):
        HostOptions(missing_definition_backoff=10, missing_definition_backoff_max=5)


def test_numbers_are_seconds_and_read_back_as_timedeltas():
    host = (
        WorkflowHostBuilder()
        .with_options(lock_ttl=30, poll_interval=0.5, stop_timeout=0, retention=86_400)
        .with_options(max_concurrent_workflows=8)
        .build()
    )
    assert host.options.lock_ttl == timedelta(seconds=30)
    assert host.options.poll_interval == timedelta(milliseconds=500)
    assert host.options.stop_timeout == timedelta(0)
    assert host.options.retention == timedelta(days=1)
    assert host.options.max_concurrent_workflows == 8  # a later with_options keeps the earlier ones


def test_the_defaults_are_kept():
    options = HostOptions()
    assert options.poll_interval == timedelta(seconds=10)
    assert options.lock_ttl == timedelta(seconds=30)
    assert options.max_concurrent_workflows == 100
    assert options.start_locally is True
    assert options.publish_locally is True
    assert options.max_concurrent_events >= 2
    assert options.max_passes_per_lease == 200
    assert options.idle_time == 0.1
    assert options.activity_lease == timedelta(minutes=5)
    assert options.missing_definition_backoff == timedelta(seconds=1)
    assert options.missing_definition_backoff_max == timedelta(minutes=5)
    assert options.retention is None
    assert options.purge_interval == timedelta(hours=1)
    assert options.stop_timeout == timedelta(seconds=30)
    assert options.index_retry_max == 20
    assert options.accept is None


def test_options_are_frozen():
    options = HostOptions()
    with pytest.raises(ValueError, match="frozen"):
        options.lock_ttl = timedelta(seconds=1)  # type: ignore[misc]


def test_an_accept_function_is_kept_as_given():
    def mine(instance: object) -> bool:
        return True

    assert WorkflowHostBuilder().with_options(accept=mine).build().options.accept is mine
