"""dbt.jinja: the Jinja forms translated by parsing (ref, source, config, comments) and what
is left, each with its line and what to do."""

from __future__ import annotations

from assets_core.dbt.jinja import Leftover, translate_model


def test_refs_sources_config_and_comments_are_translated() -> None:
    model = translate_model(
        "{{ config(materialized='view', tags='daily', group='marts', meta={'owner': 'ana'}) }}\n"
        "\n"
        "{# per customer #}\n"
        'select * from {{ ref("stg_orders") }} o\n'
        "join {{- ref('shop', 'customers') -}} c using (id)\n"
        "join {{ source('raw', 'payments') }} p using (id)\n"
    )
    assert model.sql == (
        "/* per customer */\n"
        "select * from stg_orders o\n"
        "join customers c using (id)\n"
        "join raw.payments p using (id)\n"
    )
    assert model.options == {"tags": "daily", "group": "marts", "owners": "ana"}
    assert model.refs == ["stg_orders", "customers"]
    assert model.sources == [("raw", "payments")]
    assert model.leftovers == []


def test_other_jinja_is_left_in_place_and_listed_with_its_line() -> None:
    text = (
        "{{ config(materialized='incremental', tags=['a', 'b'], alias=true) }}\n"
        "select {{ var('x') }}, '}}' as s from {{ this }}\n"
        "{% if is_incremental() %}where 1{% endif %}\n"
        "{{ ref('a', version=2) }} {{ ref(x) }}\n"
        "{{ unclosed\n"
    )
    model = translate_model(text)
    assert model.options == {"tags": "a, b"}
    assert [(left.line, left.text) for left in model.leftovers] == [
        (1, "config(materialized='incremental')"),
        (1, "config(alias=True)"),
        (2, "{{ var('x') }}"),
        (2, "{{ this }}"),
        (3, "{% if is_incremental() %}"),
        (3, "{% endif %}"),
        (4, "{{ ref('a', version=2) }}"),
        (4, "{{ ref(x) }}"),
        (5, "{{ unclosed\n"),
    ]
    assert "select {{ var('x') }}, '}}' as s from {{ this }}" in model.sql
    assert model.leftovers[0] == Leftover(
        1,
        "config(materialized='incremental')",
        "Lumbung rebuilds the whole table on each run; remove it, or partition the asset "
        "(-- partitions:)",
    )
    assert model.leftovers[-1].fix == "close it with }}"
