"""LambdaFunctions: the Lambda functions of one location packaged as images, read-only.

ListFunctions (50 a page) gives every function's PackageType but not its image, so each image
function costs one GetFunction (`Code.ImageUri`, `Code.ResolvedImageUri`). A function's image
changes only with its code, which changes its `LastModified` and `CodeSha256`: what GetFunction
said is kept under those, and a refresh pays only for functions updated since.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.core.image_references import parse_image_reference
from chalicelib.core.lifecycle import Location
from chalicelib.core.workloads import ImageUse, Workload, workloads_of

PAGE = 50  # ListFunctions gives at most 50 a page


class LambdaFunctions:
    def __init__(self, client_for: Callable[[Location], Any]) -> None:
        self._client_for = client_for
        self._images: dict[tuple[str, str, str], ImageUse] = {}

    def workloads(self, location: Location) -> list[Workload]:
        client = self._client_for(location)
        found: list[Workload] = []
        pages = client.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": PAGE})
        for page in pages:
            for function in page["Functions"]:
                if function.get("PackageType") != "Image":
                    continue
                use = self._image_of(client, function)
                found += workloads_of(location, "lambda-function", function["FunctionName"], [use])
        return found

    def _image_of(self, client: Any, function: dict[str, Any]) -> ImageUse:
        key = (
            function["FunctionArn"],
            str(function.get("LastModified", "")),
            str(function.get("CodeSha256", "")),
        )
        if key not in self._images:
            code = client.get_function(FunctionName=function["FunctionArn"])["Code"]
            resolved = parse_image_reference(code.get("ResolvedImageUri"))
            self._images[key] = ImageUse(
                str(code.get("ImageUri", "")), resolved.digest if resolved else None
            )
        return self._images[key]
