"""Schemas the OpenAPI document references by hand (routes that parse or render raw JSON)."""

from __future__ import annotations

from typing import Any

from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel


def add_component_schemas(openapi: dict[str, Any], *models: type[BaseModel]) -> dict[str, Any]:
    components = openapi.setdefault("components", {}).setdefault("schemas", {})
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema
    return openapi


def _models_with_examples(base: type[BaseModel] = BaseModel) -> dict[str, type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {}
    for model in base.__subclasses__():
        extra = model.model_config.get("json_schema_extra")
        if (
            model.__module__.startswith("backend.")
            and isinstance(extra, dict)
            and "examples" in extra
        ):
            found[model.__name__] = model
        found |= _models_with_examples(model)
    return found


def restore_example_nulls(openapi: dict[str, Any]) -> dict[str, Any]:
    """Put the models' own examples back into their component schemas.

    FastAPI's ``get_openapi`` encodes the whole document with ``exclude_none=True``, which
    also strips the nulls *inside* examples: an example whose required, nullable field is
    null (a first timeline entry's ``from_status``) would no longer match its own schema.
    """
    components = openapi.get("components", {}).get("schemas", {})
    for name, model in _models_with_examples().items():
        if name in components:
            extra = model.model_config.get("json_schema_extra")
            assert isinstance(extra, dict)
            components[name]["examples"] = jsonable_encoder(extra["examples"])
    return openapi
