"""Schemas the OpenAPI document references by hand (routes that parse or render raw JSON)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


def add_component_schemas(openapi: dict[str, Any], *models: type[BaseModel]) -> dict[str, Any]:
    components = openapi.setdefault("components", {}).setdefault("schemas", {})
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema
    return openapi
