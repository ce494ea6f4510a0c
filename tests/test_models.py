"""The models decode the vendor's own examples exactly, and tolerate what vendors add."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import msgspec
import pytest

from flolive import (
    CampaignNotFound,
    DecodeError,
    Label,
    LabelsUnavailable,
    Page,
    Participant,
    ParticipantStatus,
    SubscriberNotFound,
)
from flolive._codec import codec_for
from flolive.errors import RequestContext as RequestInfo
from flolive.models import Campaign, CampaignStatus

API = Path(__file__).resolve().parents[2] / "shared" / "api"
INFO = RequestInfo("GET", "/x", page=1)

PARTICIPANTS_OK = b"""{
"errorCode": "",
"errorMessage": "",
"content": [
{
"id": 1030247,
"iccid": "8935771600000000003",
"status": "COMPLETED",
"attempt": 1,
"code": "200",
"message": "OK - UPDATE - 3F00/ADF1/6F31 - data: 05 ...",
"timestamp": "2022-02-11 14:21:53"
},
{
"id": 1040348,
"iccid": "8935771600000000052",
"status": "RETRY",
"attempt": 3,
"code": "200",
"message": "OK - UPDATE - 3F00/ADF1/6F31 - data: 05 ...",
"timestamp": "2022-08-22 14:13:59"
}
],
"pageable": {
"page": 1,
"size": 10,
"totalPages": 99,
"totalElements": 988
}
}"""

LABELS_OK = b"""{
  "errorCode": "",
  "errorMessage": "",
  "content": [
    {
      "id": "e7fcef24-5c03-41dd-9e33-995b7d6f47a7",
      "name": "label1",
      "creationTime": "2020-11-11 08:47:46"
    },
    {
      "id": "b2fccb33-5c03-41dd-9e33-662f7d6f47b2",
      "name": "label2",
      "creationTime": "2020-11-11 08:47:50"
    }
  ],
  "pageable": {
    "page": 0,
    "size": 10,
    "totalPages": 1,
    "totalElements": 1
  }
}"""

PARTICIPANTS_FAIL = b"""{
"errorCode": "CUSTOMER_1037",
"errorMessage": "Campaign does not exist",
"content": "",
"pageable": ""
}"""

LABELS_FAIL = b"""{
  "errorCode": "SUBSCRIBER_1029",
  "errorMessage": "Failed to retrieve subscriber label details",
  "content": "",
  "pageable": ""
}"""


@pytest.mark.skipif(not API.is_dir(), reason="shared/api is not beside this checkout")
def test_vendor_examples_are_the_ones_in_shared_api() -> None:
    # Guards against the copies above drifting from the vendor's pages.
    participants_page = (API / "get-customer-campaign-participants.txt").read_text()
    labels_page = (API / "get-subscriber-labels.txt").read_text()
    for needle in ('"iccid": "8935771600000000052"', '"totalElements": 988'):
        assert needle in participants_page
    for needle in ('"id": "b2fccb33-5c03-41dd-9e33-662f7d6f47b2"', '"SUBSCRIBER_1029"'):
        assert needle in labels_page


def test_participants_example_decodes_exactly() -> None:
    page = codec_for(Participant).page(PARTICIPANTS_OK, 200, INFO)
    assert page == Page(
        items=[
            Participant(
                id=1030247,
                iccid="8935771600000000003",
                status="COMPLETED",
                attempt=1,
                code="200",
                message="OK - UPDATE - 3F00/ADF1/6F31 - data: 05 ...",
                timestamp=dt.datetime(2022, 2, 11, 14, 21, 53),
            ),
            Participant(
                id=1040348,
                iccid="8935771600000000052",
                status="RETRY",
                attempt=3,
                code="200",
                message="OK - UPDATE - 3F00/ADF1/6F31 - data: 05 ...",
                timestamp=dt.datetime(2022, 8, 22, 14, 13, 59),
            ),
        ],
        number=1,
        size=10,
        total_pages=99,
        total_elements=988,
    )
    assert page.items[0].timestamp.tzinfo is None
    assert page.items[1].status == ParticipantStatus.RETRY


def test_labels_example_decodes_exactly_despite_its_wrong_count() -> None:
    page = codec_for(Label).page(LABELS_OK, 200, INFO)
    assert page.items == [
        Label(
            id=uuid.UUID("e7fcef24-5c03-41dd-9e33-995b7d6f47a7"),
            name="label1",
            creation_time=dt.datetime(2020, 11, 11, 8, 47, 46),
        ),
        Label(
            id=uuid.UUID("b2fccb33-5c03-41dd-9e33-662f7d6f47b2"),
            name="label2",
            creation_time=dt.datetime(2020, 11, 11, 8, 47, 50),
        ),
    ]
    assert (page.number, page.size, page.total_pages, page.total_elements) == (0, 10, 1, 1)


def test_participants_failure_example_raises_campaign_not_found() -> None:
    with pytest.raises(CampaignNotFound) as info:
        codec_for(Participant).page(PARTICIPANTS_FAIL, 200, INFO)
    err = info.value
    assert (err.code, err.message, err.http_status, err.page) == (
        "CUSTOMER_1037",
        "Campaign does not exist",
        200,
        1,
    )


def test_labels_failure_example_raises_labels_unavailable() -> None:
    with pytest.raises(LabelsUnavailable) as info:
        codec_for(Label).page(LABELS_FAIL, 404, INFO)
    assert info.value.code == "SUBSCRIBER_1029"
    assert info.value.message == "Failed to retrieve subscriber label details"
    assert info.value.http_status == 404


def test_unknown_status_and_unknown_fields_decode() -> None:
    body = PARTICIPANTS_OK.replace(b'"RETRY"', b'"ARCHIVED"').replace(
        b'"attempt": 3,', b'"attempt": 3, "newField": {"deep": [1, 2]},'
    )
    page = codec_for(Participant).page(body, 200, INFO)
    assert page.items[1].status == "ARCHIVED"
    assert page.items[1].status not in set(ParticipantStatus)


def test_campaign_optional_description_and_status_constants() -> None:
    body = msgspec.json.encode(
        {
            "content": [
                {
                    "id": 7,
                    "name": "c",
                    "templateId": 3,
                    "status": "SCHEDULED",
                    "timestamp": "2022-02-11 14:21:53",
                    "effectiveStart": "2022-02-11",
                    "effectiveEnd": "2022-03-11",
                    "maxRetries": 2,
                }
            ]
        }
    )
    (c,) = codec_for(Campaign).items(body, 200, INFO)
    assert c.description is None
    assert c.status == CampaignStatus.SCHEDULED
    assert (c.template_id, c.max_retries) == (3, 2)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"content": [', "truncated"),
        (b"<html>502 Bad Gateway</html>", "malformed"),
        (PARTICIPANTS_OK.replace(b'"attempt": 1', b'"attempt": "one"'), "$.content[0].attempt"),
        (
            PARTICIPANTS_OK.replace(b'"timestamp": "2022-02-11 14:21:53"', b'"timestamp": 5'),
            "$.content[0].timestamp",
        ),
        (b'{"errorCode": "", "content": "", "pageable": ""}', "$.content"),
        (b'{"errorCode": "", "content": {"a": 1}, "pageable": {}}', "$.content"),
        (b'{"errorCode": "", "content": [], "pageable": ""}', "$.pageable"),
        (b'{"errorCode": 5}', "$.errorCode"),
        (b"[]", "Expected `object`"),
    ],
)
def test_invalid_bodies_raise_decode_error_with_path(body: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as info:
        codec_for(Participant).page(body, 200, INFO)
    err = info.value
    assert reason.lower() in err.reason.lower()
    assert err.page == 1
    assert err.http_status == 200
    assert err.body == body[:200]


def test_deep_nesting_is_a_decode_error_not_a_recursion_error() -> None:
    deep = b'{"errorCode": "", "extra": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(DecodeError) as info:
        codec_for(Participant).page(deep, 200, INFO)
    assert info.value.reason == "JSON nested too deeply"
    assert info.value.body is not None
    assert len(info.value.body) == 200


def test_error_envelope_with_odd_content_still_raises_its_code() -> None:
    body = (
        b'{"errorCode": "SUBSCRIBER_1002", "errorMessage": "Subscriber does not exist", '
        b'"content": 7}'
    )
    with pytest.raises(SubscriberNotFound) as info:
        codec_for(Label).page(body, 200, INFO)
    assert info.value.code == "SUBSCRIBER_1002"


def test_sensitive_bodies_are_never_kept() -> None:
    with pytest.raises(DecodeError) as info:
        codec_for(Participant).page(
            b'{"token": "s3cret"', 200, RequestInfo("POST", "/a", sensitive=True)
        )
    assert info.value.body is None
    assert "s3cret" not in str(info.value)


def test_errors_survive_pickling_with_their_attributes() -> None:
    import pickle

    from flolive import CampaignNotFound, RateLimited

    err = CampaignNotFound(
        "CUSTOMER_1037", "Campaign does not exist", 404, context=RequestInfo("GET", "/p", 3)
    )
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is CampaignNotFound
    assert (back.code, back.message, back.http_status, back.page) == (
        "CUSTOMER_1037",
        "Campaign does not exist",
        404,
        3,
    )
    assert str(back) == str(err)
    limited = pickle.loads(
        pickle.dumps(RateLimited(429, retry_after=2.0, context=RequestInfo("GET", "/p", 1)))
    )
    assert (limited.retry_after, limited.page) == (2.0, 1)


# -- conversion: to_dict() / to_json(), the one encoding JSONL export writes ----

_UID = uuid.UUID("6f1c2a9e-0b7d-4c55-9a43-2f0e8d1b7c10")
_CUSTOMER = uuid.UUID("0a6e5e93-7d3f-4e8b-8d51-5d1c9e2f3a44")
_WHEN = dt.datetime(2022, 2, 11, 14, 21, 53)
_WHEN_MS = dt.datetime(2022, 2, 11, 14, 21, 53, 120000)


def _examples() -> dict[type, tuple[object, dict[str, object]]]:
    """One instance of every model, with the exact dict it must convert to."""
    from flolive import models as m

    pair = m.ImsiMsisdnPair(imsi="425010000000001", msisdn=None, is_last_active=True)
    pair_dict = {"imsi": "425010000000001", "msisdn": None, "isLastActive": True}
    ids = m.SubscriberIdentifiers(
        subscriber_id=_UID, imsi_msisdn_pairs=(pair,), iccid="8935771600000000003"
    )
    ids_dict = {
        "subscriberId": str(_UID),
        "imsiMsisdnPairs": [pair_dict],
        "iccid": "8935771600000000003",
        "imei": None,
        "imeisv": None,
    }
    label = m.Label(id=_UID, name="fleet", creation_time=_WHEN_MS)
    label_dict = {"id": str(_UID), "name": "fleet", "creationTime": "2022-02-11T14:21:53.120000"}
    participant = m.Participant(
        id=1030247,
        iccid="8935771600000000003",
        status="COMPLETED",
        attempt=1,
        code="200",
        message="OK",
        timestamp=_WHEN,
    )
    participant_dict = {
        "id": 1030247,
        "iccid": "8935771600000000003",
        "status": "COMPLETED",
        "attempt": 1,
        "code": "200",
        "message": "OK",
        "timestamp": "2022-02-11T14:21:53",
    }
    pageable = m.Pageable(page=0, size=20, total_pages=3, total_elements=41)
    pageable_dict = {"page": 0, "size": 20, "totalPages": 3, "totalElements": 41}
    return {
        m.Participant: (participant, participant_dict),
        m.Label: (label, label_dict),
        m.Campaign: (
            m.Campaign(
                id=7,
                name="spring",
                template_id=3,
                status=m.CampaignStatus.COMPLETED,
                timestamp=_WHEN,
                effective_start="2022-02-11 00:00",
                effective_end="2022-03-11 00:00",
                max_retries=2,
            ),
            {
                "id": 7,
                "name": "spring",
                "templateId": 3,
                "status": "COMPLETED",
                "timestamp": "2022-02-11T14:21:53",
                "effectiveStart": "2022-02-11 00:00",
                "effectiveEnd": "2022-03-11 00:00",
                "maxRetries": 2,
                "description": None,
            },
        ),
        m.Pageable: (pageable, pageable_dict),
        m.Envelope: (
            m.Envelope(content=[label], pageable=pageable),
            {
                "errorCode": "",
                "errorMessage": "",
                "content": [label_dict],
                "pageable": pageable_dict,
            },
        ),
        m.ErrorEnvelope: (
            m.ErrorEnvelope(error_code="CUSTOMER_1037", error_message="no such campaign"),
            {"errorCode": "CUSTOMER_1037", "errorMessage": "no such campaign"},
        ),
        m.Page: (
            m.Page(
                items=[participant],
                number=0,
                size=20,
                total_pages=1,
                total_elements=1,
                request_id="r-1",
            ),
            {
                "items": [participant_dict],
                "number": 0,
                "size": 20,
                "total_pages": 1,
                "total_elements": 1,
                "request_id": "r-1",
            },
        ),
        m.ImsiMsisdnPair: (pair, pair_dict),
        m.Subscriber: (
            m.Subscriber(
                subscriber_id=_UID,
                imsi_msisdn_pairs=(pair, m.ImsiMsisdnPair(imsi="2", msisdn="+4477")),
                iccid="8935771600000000003",
                status=m.SubscriberStatus.ACTIVE,
                customer_id=_CUSTOMER,
                customer_name="Acme",
            ),
            {
                "subscriberId": str(_UID),
                "imsiMsisdnPairs": [
                    pair_dict,
                    {"imsi": "2", "msisdn": "+4477", "isLastActive": False},
                ],
                "iccid": "8935771600000000003",
                "status": "ACTIVE",
                "imei": None,
                "imeisv": None,
                "customerId": str(_CUSTOMER),
                "customerName": "Acme",
            },
        ),
        m.SubscriberIdentifiers: (ids, ids_dict),
        m.SubscriberDetails: (
            m.SubscriberDetails(
                subscriber_identifiers=ids,
                customer_id=_CUSTOMER,
                customer_name="Acme",
                subs_status="ACTIVE",
                last_known_location={"country": "IL", "time": "2022-02-11 14:21:53"},
                last_rat_type=6,
                last_rat_type_label="LTE",
            ),
            {
                "subscriberIdentifiers": ids_dict,
                "customerId": str(_CUSTOMER),
                "customerName": "Acme",
                "subsStatus": "ACTIVE",
                "tags": None,
                "systemLabels": None,
                "userLabels": None,
                "alias": None,
                "lastKnownLocation": {"country": "IL", "time": "2022-02-11 14:21:53"},
                "lastConnectedNetwork": None,
                "lastRatType": 6,
                "lastRatTypeLabel": "LTE",
                "lastDataRatType": None,
                "lastDataRatTypeLabel": None,
            },
        ),
        m.Profile: (
            m.Profile(id=_CUSTOMER, name="home", is_active=True, subscriber_identifiers=ids),
            {
                "id": str(_CUSTOMER),
                "name": "home",
                "isActive": True,
                "subscriberIdentifiers": ids_dict,
            },
        ),
        m.CursorEnvelope: (
            m.CursorEnvelope(content=[], pit_id="p1", record_amount=0, total_record_amount=9),
            {
                "errorCode": "",
                "errorMessage": "",
                "content": [],
                "pitId": "p1",
                "recordAmount": 0,
                "totalRecordAmount": 9,
            },
        ),
        m.Chunk: (
            m.Chunk(items=[label], number=2, pit_id="p3", record_amount=1, total_record_amount=9),
            {
                "items": [label_dict],
                "number": 2,
                "pit_id": "p3",
                "record_amount": 1,
                "total_record_amount": 9,
                "request_id": None,
            },
        ),
    }


def test_every_model_has_a_conversion_example() -> None:
    from flolive import models as m

    public = {getattr(m, name) for name in m.__all__}
    models = {c for c in public if isinstance(c, type) and issubclass(c, m.Model)} - {m.Model}
    assert models == set(_examples())


@pytest.mark.parametrize("kind", list(_examples()), ids=lambda c: c.__name__)
def test_to_dict_has_the_api_names_and_iso_date_times(kind: type) -> None:
    import json

    model, expected = _examples()[kind]
    assert model.to_dict() == expected  # type: ignore[attr-defined]
    assert list(model.to_dict()) == list(expected)  # type: ignore[attr-defined]
    text = model.to_json()  # type: ignore[attr-defined]
    assert isinstance(text, str)
    # Compact, one line, in field order: a JSONL line.
    assert text == json.dumps(expected, separators=(",", ":"))
    from flolive.models import encode_json, to_builtins

    assert text.encode() == encode_json(model)
    assert to_builtins(model) == expected


@pytest.mark.parametrize("kind", list(_examples()), ids=lambda c: c.__name__)
def test_to_json_decodes_back_to_an_equal_model(kind: type) -> None:
    from flolive import models as m

    model, _ = _examples()[kind]
    item = {m.Envelope: m.Label, m.Page: m.Participant, m.Chunk: m.Label}.get(kind)
    target: object = kind if item is None else kind[item]  # type: ignore[index]
    assert msgspec.json.decode(model.to_json(), type=target) == model  # type: ignore[attr-defined,call-overload]


def test_to_dict_is_a_new_dict_and_to_json_can_indent() -> None:
    from flolive import models as m

    label, expected = _examples()[m.Label]
    first = label.to_dict()  # type: ignore[attr-defined]
    first["name"] = "changed"
    assert label.to_dict() == expected  # type: ignore[attr-defined]
    assert label.to_json(indent=2) == (  # type: ignore[attr-defined]
        "{\n"
        f'  "id": "{_UID}",\n'
        '  "name": "fleet",\n'
        '  "creationTime": "2022-02-11T14:21:53.120000"\n'
        "}"
    )


def test_encode_json_lines_is_one_to_json_a_line() -> None:
    from flolive import models as m

    rows = [example for example, _ in _examples().values()]
    expected = "".join(row.to_json() + "\n" for row in rows)  # type: ignore[attr-defined]
    assert m.encode_json_lines(rows) == expected.encode()
    assert m.encode_json_lines([]) == b""


async def test_jsonl_export_writes_exactly_what_to_json_returns(
    start_sandbox: Any, tmp_path: Path
) -> None:
    from flolive import Client
    from flolive.export import export_participants

    sandbox = await start_sandbox(campaign_sizes={1: 45})
    out = tmp_path / "participants.jsonl"
    async with Client(base_url=sandbox.url, page_size=20) as client:
        items = await client.campaign_participants(1, 1).collect()
        await export_participants(client, 1, 1, str(out))
    assert len(items) == 45
    assert out.read_text().splitlines() == [p.to_json() for p in items]
