"""Text exposition helpers: escaping, number spelling and line templates."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from contract import catalog as c
from contract.promql import format_le, format_value
from exporter import exposition as x


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("search", "search"),
        ('say "hi"', 'say \\"hi\\"'),
        ("C:\\temp", "C:\\\\temp"),
        ("two\nlines", "two\\nlines"),
        ('\\"\n', '\\\\\\"\\n'),
        ("tab\tstays", "tab\tstays"),
        ("ünïcode", "ünïcode"),
    ],
)
def test_label_values_escape_backslash_quote_and_newline(raw: str, escaped: str) -> None:
    assert x.escape_label_value(raw) == escaped
    assert x.needs_escaping((raw,)) == (raw != escaped)


def test_help_escapes_backslash_and_newline_but_not_quotes() -> None:
    assert x.escape_help('a "b" \\ c\nd') == 'a "b" \\\\ c\\nd'


@pytest.mark.parametrize(
    ("bound", "spelled"),
    [
        (0.05, "0.05"),
        (1.0, "1.0"),
        (120.0, "120.0"),
        (262144.0, "262144.0"),
        (1048576.0, "1.048576e+06"),
        (67108864.0, "6.7108864e+07"),
        (1234567.5, "1.2345675e+06"),
        (math.inf, "+Inf"),
    ],
)
def test_bucket_bounds_are_spelled_like_prometheus_client(bound: float, spelled: str) -> None:
    assert format_le(bound) == spelled


@pytest.mark.parametrize(
    ("value", "spelled"),
    [(0.0, "0.0"), (3.0, "3.0"), (0.00367, "0.00367"), (1e-05, "1e-05"), (math.inf, "+Inf"),
     (-math.inf, "-Inf"), (math.nan, "NaN")],
)
def test_sample_values(value: float, spelled: str) -> None:
    assert format_value(value) == spelled


def test_header_names_the_type_and_escapes_help() -> None:
    metric = c.Metric("demo_total", c.MetricType.COUNTER, "x", ("a",), "Line one\nline two \\ end")
    assert x.header(metric) == (
        "# HELP demo_total Line one\\nline two \\\\ end\n# TYPE demo_total counter\n"
    )


def test_sample_template_with_labels_constants_and_without_labels() -> None:
    assert x.sample_template("m_total", ("a", "b")) % ("1", "2", 3.0) == 'm_total{a="1",b="2"} 3.0\n'
    assert x.sample_template("m_total", ("a",), (("type", "in%put"),)) % ("1", 2.0) == (
        'm_total{a="1",type="in%put"} 2.0\n'
    )
    assert x.sample_template("m_total", ()) % (5.0,) == "m_total 5.0\n"


def test_histogram_template_lines() -> None:
    metric = c.Metric("h_seconds", c.MetricType.HISTOGRAM, "s", ("a",), "h", (0.5, 1.0))
    text = x.histogram_template(metric) % ('a="x",', 1.0, 'a="x",', 3.0, 'a="x",', 4.0,
                                          '{a="x"}', 2.5, '{a="x"}', 4.0)
    assert text == (
        'h_seconds_bucket{a="x",le="0.5"} 1\n'
        'h_seconds_bucket{a="x",le="1.0"} 3\n'
        'h_seconds_bucket{a="x",le="+Inf"} 4\n'
        'h_seconds_sum{a="x"} 2.5\n'
        'h_seconds_count{a="x"} 4\n'
    )
    with pytest.raises(ValueError, match="not a histogram"):
        x.histogram_template(c.REQUESTS)


@given(st.text(min_size=0, max_size=40))
def test_any_label_value_survives_escaping_and_a_real_parser(value: str) -> None:
    line = x.sample_template("m_total", ("v",)) % (x.escape_label_value(value), 1.0)
    [family] = text_string_to_metric_families("# TYPE m_total counter\n" + line)
    [sample] = family.samples
    assert sample.labels == {"v": value}
    assert sample.value == 1.0
