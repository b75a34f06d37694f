"""Lambda image functions' resolved digests for the emulator, in front of moto's Lambda.

As the Lambda API reference and developer guide describe them:
- CreateFunction and UpdateFunctionCode with an `ImageUri` resolve it against ECR at that
  moment: `GetFunction`'s `Code.ResolvedImageUri` is `<registry>/<repository>@<digest>` and
  `CodeSha256` the digest's hex; the function keeps that digest when the tag later moves (or the
  image is deleted) until its code is updated again;
- the image must be an ECR image of the function's own Region (another account is allowed),
  named by tag or digest: otherwise "Source image … is not valid", and an image the registry does
  not have is "Source image … does not exist" (InvalidParameterValueException, 400);
- ListFunctions pages: at most 50 functions a response (`MaxItems`, `Marker`, `NextMarker`).
moto answers with a ResolvedImageUri hashed from the URI string (and `@sha256@sha256:` for a
digest URI) and no paging. Not emulated: published versions' own code (they show $LATEST's),
the function becoming Failed with `ImageDeleted` after it goes inactive.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from chalicelib.core.image_references import parse_image_reference
from chalicelib.core.lifecycle import partition_of
from chalicelib.local.emulated_calls import Answer, ApiError, Call, Registries, page

INVALID = "InvalidParameterValueException"
MOST_PER_PAGE = 50


class EmulatedLambda:
    """Lambda operations completed here; moto does the rest."""

    OPERATIONS = frozenset(
        {
            "CreateFunction",
            "UpdateFunctionCode",
            "GetFunction",
            "GetFunctionConfiguration",
            "ListFunctions",
            "DeleteFunction",
        }
    )

    def __init__(self, registries: Registries) -> None:
        self._registries = registries
        self.resolved: dict[str, tuple[str, str]] = {}  # function ARN -> (ImageUri, digest)

    def handles(self, operation: str) -> bool:
        return operation in self.OPERATIONS

    def error(self, error: ApiError) -> Answer:
        code = INVALID if error.code == "InvalidParameterException" else error.code
        data = json.dumps({"Type": "User", "message": error.message}).encode()
        return Answer(
            error.status,
            [("Content-Type", "application/json"), ("x-amzn-ErrorType", code)],
            data,
        )

    def handle(self, call: Call) -> Answer:
        handler = {
            "CreateFunction": self._create,
            "UpdateFunctionCode": self._update_code,
            "GetFunction": self._get,
            "GetFunctionConfiguration": self._get_configuration,
            "ListFunctions": self._list,
            "DeleteFunction": self._delete,
        }[call.operation]
        return handler(call)

    # ------------------------------------------------------------------ operations

    def _create(self, call: Call) -> Answer:
        request = call.body()
        uri = (request.get("Code") or {}).get("ImageUri")
        digest = self._resolve(call, uri) if uri is not None else None
        answer = call.forward()
        if not answer.ok or digest is None:
            return answer
        document = answer.json()
        self.resolved[_unqualified(document["FunctionArn"])] = (str(uri), digest)
        return answer.with_json(self._configuration(document))

    def _update_code(self, call: Call) -> Answer:
        request = call.body()
        uri = request.get("ImageUri")
        digest = self._resolve(call, uri) if uri is not None else None
        answer = call.forward()
        if not answer.ok:
            return answer
        document = answer.json()
        if digest is not None and not request.get("DryRun"):
            self.resolved[_unqualified(document["FunctionArn"])] = (str(uri), digest)
        return answer.with_json(self._configuration(document))

    def _get(self, call: Call) -> Answer:
        answer = call.forward()
        if not answer.ok:
            return answer
        document = answer.json()
        configuration = document.get("Configuration", {})
        code = document.get("Code", {})
        arn = _unqualified(configuration.get("FunctionArn", ""))
        if arn not in self.resolved and code.get("ImageUri"):
            digest = self._registries.resolve(code["ImageUri"])  # made outside this layer
            if digest:
                self.resolved[arn] = (code["ImageUri"], digest)
        if arn in self.resolved:
            uri, digest = self.resolved[arn]
            reference = parse_image_reference(uri)
            if reference is not None:
                host = uri.split("/", 1)[0]
                code["ResolvedImageUri"] = f"{host}/{reference.repository}@{digest}"
        document["Configuration"] = self._configuration(configuration)
        return answer.with_json(document)

    def _get_configuration(self, call: Call) -> Answer:
        answer = call.forward()
        return answer.with_json(self._configuration(answer.json())) if answer.ok else answer

    def _list(self, call: Call) -> Answer:
        size_text = call.query("MaxItems")
        try:
            size = MOST_PER_PAGE if size_text is None else min(int(size_text), MOST_PER_PAGE)
        except ValueError:
            raise ApiError(INVALID, "MaxItems must be a number") from None
        if size_text is not None and int(size_text) < 1:
            raise ApiError(INVALID, "MaxItems must be between 1 and 10000")
        answer = call.forward()
        if not answer.ok:
            return answer
        document = answer.json()
        functions = [self._configuration(f) for f in document.get("Functions", [])]
        document["Functions"], marker = page(
            functions, size, call.query("Marker"), MOST_PER_PAGE, MOST_PER_PAGE, "MaxItems"
        )
        document.pop("NextMarker", None)
        if marker:
            document["NextMarker"] = marker
        return answer.with_json(document)

    def _delete(self, call: Call) -> Answer:
        answer = call.forward()
        if answer.ok and call.query("Qualifier") in (None, "$LATEST"):
            name = unquote(call.environ.get("PATH_INFO", "").rstrip("/").rsplit("/", 1)[-1])
            if not name.startswith("arn:"):
                name = (
                    f"arn:{partition_of(call.region)}:lambda:{call.region}:{call.account}:"
                    f"function:{name}"
                )
            self.resolved.pop(_unqualified(name), None)
        return answer

    # ------------------------------------------------------------------ helpers

    def _resolve(self, call: Call, uri: Any) -> str:
        """The digest `uri` names now, or the error Lambda gives for it."""
        reference = parse_image_reference(uri)
        last = str(uri).rsplit("/", 1)[-1]
        if reference is None or reference.region != call.region or not ("@" in last or ":" in last):
            raise ApiError(
                INVALID, f"Source image {uri} is not valid. Provide a valid source image."
            )
        digest = self._registries.digest_of(reference)
        if digest is None:
            raise ApiError(
                INVALID, f"Source image {uri} does not exist. Provide a valid source image."
            )
        return digest

    def _configuration(self, configuration: dict[str, Any]) -> dict[str, Any]:
        """An image function's CodeSha256 is its image digest's hex."""
        found = self.resolved.get(_unqualified(configuration.get("FunctionArn", "")))
        if found is not None and configuration.get("PackageType") == "Image":
            configuration["CodeSha256"] = found[1].partition(":")[2]
        return configuration


def _unqualified(arn: str) -> str:
    # arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
    return ":".join(arn.split(":")[:7])
