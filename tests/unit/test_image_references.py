"""The image reference parser: ECR's forms of `<registry>/<repository>[:tag][@digest]`, other
registries and malformed strings ignored."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.core.image_references import ImageReference, parse_image_reference

A = "sha256:" + "a" * 64
HOST = "111122223333.dkr.ecr.eu-west-1.amazonaws.com"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{HOST}/team/api:v1", ("111122223333", "eu-west-1", "team/api", "v1", None)),
        (f"{HOST}/team/api@{A}", ("111122223333", "eu-west-1", "team/api", None, A)),
        (f"{HOST}/team/api:v1@{A}", ("111122223333", "eu-west-1", "team/api", "v1", A)),
        (f"{HOST}/api", ("111122223333", "eu-west-1", "api", "latest", None)),
        (f"{HOST}/a/b/c.d_e-f:1.2.3-rc_1",
         ("111122223333", "eu-west-1", "a/b/c.d_e-f", "1.2.3-rc_1", None)),
        # China partition, FIPS and dual-stack endpoints name the same registry
        ("111122223333.dkr.ecr.cn-north-1.amazonaws.com.cn/team/api:v1",
         ("111122223333", "cn-north-1", "team/api", "v1", None)),
        ("111122223333.dkr.ecr-fips.us-gov-west-1.amazonaws.com/team/api:v1",
         ("111122223333", "us-gov-west-1", "team/api", "v1", None)),
        ("111122223333.dkr-ecr.ap-southeast-2.on.aws/team/api@" + A,
         ("111122223333", "ap-southeast-2", "team/api", None, A)),
        # hosts are case-insensitive; AWS's documented short digests are digests too
        (f"{HOST.upper()}/team/api:v1", ("111122223333", "eu-west-1", "team/api", "v1", None)),
        (f"{HOST}/team/api@sha256:EXAMPLE111",
         ("111122223333", "eu-west-1", "team/api", None, "sha256:EXAMPLE111")),
    ],
)  # fmt: skip
def test_ecr_references_name_account_region_repository_tag_and_digest(
    text: str, expected: tuple[str, str, str, str | None, str | None]
) -> None:
    assert parse_image_reference(text) == ImageReference(*expected)


@pytest.mark.parametrize(
    "text",
    [
        "nginx:1.27",
        "docker.io/library/nginx:latest",
        "public.ecr.aws/nginx/nginx:1",
        "ghcr.io/org/app@" + A,
        "localhost:5000/team/api:v1",
        "111122223333.dkr.ecr.eu-west-1.amazonaws.com.evil.example/team/api:v1",
        "11112222333.dkr.ecr.eu-west-1.amazonaws.com/team/api:v1",  # 11 digits
        "111122223333.dkr.ecr.eu-west-1.amazonaws.com:443/team/api:v1",
        "111122223333.dkr.ecr.eu-west-1.amazonaws.com/",
        f"{HOST}/Team/api:v1",  # repositories are lower case
        f"{HOST}/team//api:v1",
        f"{HOST}/team/api:",
        f"{HOST}/team/api:-v1",
        f"{HOST}/team/api:v1\n",
        f"{HOST}/team/api@",
        f"{HOST}/team/api@sha256",
        f"{HOST}/team/api@{A}\n",
        f"{HOST}/team/api:{'v' * 301}",
        f"{HOST}/team/api:v1@{A}@{A}",
        " " + f"{HOST}/team/api:v1",
        "",
        None,
        42,
    ],
)
def test_other_registries_and_malformed_references_are_not_ecr_images(text: object) -> None:
    assert parse_image_reference(text) is None


def test_pinned_means_the_reference_names_a_digest() -> None:
    assert not parse_image_reference(f"{HOST}/team/api:v1").pinned  # type: ignore[union-attr]
    assert parse_image_reference(f"{HOST}/team/api@{A}").pinned  # type: ignore[union-attr]
    assert parse_image_reference(f"{HOST}/team/api:v1@{A}").pinned  # type: ignore[union-attr]


@given(st.text(max_size=120))
def test_any_string_parses_or_is_ignored_without_raising(text: str) -> None:
    parsed = parse_image_reference(text)
    if parsed is not None:  # what it names is part of the text
        assert parsed.repository in text and parsed.account in text


names = st.from_regex(r"[a-z0-9]{1,8}(/[a-z0-9]{1,8}){0,2}", fullmatch=True).filter(
    lambda n: len(n) >= 2
)


@given(
    account=st.from_regex(r"[0-9]{12}", fullmatch=True),
    region=st.sampled_from(["us-east-1", "eu-west-1", "cn-northwest-1", "us-gov-east-1"]),
    repository=names,
    tag=st.none() | st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True),
    digest=st.none() | st.from_regex(r"sha256:[0-9a-f]{64}", fullmatch=True),
)
def test_a_reference_written_from_its_parts_parses_back_to_them(
    account: str, region: str, repository: str, tag: str | None, digest: str | None
) -> None:
    suffix = ".cn" if region.startswith("cn-") else ""
    text = f"{account}.dkr.ecr.{region}.amazonaws.com{suffix}/{repository}"
    text += f":{tag}" if tag else ""
    text += f"@{digest}" if digest else ""
    expected_tag = tag if (tag or digest) else "latest"
    assert parse_image_reference(text) == ImageReference(
        account, region, repository, expected_tag, digest
    )
