"""A batch of publishes as AMQP 0-9-1 frames, marshaled here in one go.

The asyncio client publishes a submit_many() batch as one write. aiormq
would marshal each message's three frames through pamqp's general
encoder (every property looked up, typed and encoded on its own), which
cost more than everything else in a batch together. A wharf message has
the same properties every time but its id, type and priority, so its
frames are built here from a few packed fields, and the basic.publish
method frame (one per family) is marshaled once by pamqp and kept.

The bytes are pamqp's exactly: producer/python/tests/test_client.py
compares them with pamqp.frame.marshal for messages with and without a
priority and for bodies split over several frames.
"""

from __future__ import annotations

import struct
from typing import Dict, Tuple

import pamqp.commands
import pamqp.encode
import pamqp.frame
import pamqp.header

__all__ = ["Frames", "RawFrames"]

FRAME_HEADER, FRAME_BODY, FRAME_END = 2, 3, b"\xce"
BASIC_CLASS = 60
CONTENT_TYPE = b"application/msgpack"
# Property flags of basic (AMQP 0-9-1, 4.2.6.1): the bits a wharf message sets.
F_CONTENT_TYPE, F_HEADERS, F_DELIVERY_MODE, F_PRIORITY, F_MESSAGE_ID, F_TYPE = (
    1 << 15, 1 << 13, 1 << 12, 1 << 11, 1 << 7, 1 << 5)
# The contract's headers ({"wharf-schema": 1}) as pamqp encodes the table.
HEADERS = pamqp.encode.field_table({"wharf-schema": 1})


class RawFrames(pamqp.header.ProtocolHeader):
    """Frames already marshaled, for aiormq's write queue: pamqp.frame.marshal
    hands a ProtocolHeader's marshal() to the socket as it is."""

    def __init__(self, data: bytes) -> None:  # pylint: disable=super-init-not-called
        self.data = data

    def marshal(self) -> bytes:
        return self.data


def _frame(kind: int, channel: int, payload: bytes) -> bytes:
    return struct.pack(">BHI", kind, channel, len(payload)) + payload + FRAME_END


def _shortstr(s: str) -> bytes:
    b = s.encode("utf-8")
    return bytes((len(b),)) + b


class Frames:
    """Marshals the messages of one channel."""

    def __init__(self, channel: int, max_content: int) -> None:
        self.channel = channel
        self.max_content = max_content     # bytes of body per frame (frame_max - 8)
        self.methods: Dict[str, bytes] = {}

    def method(self, family: str) -> bytes:
        """basic.publish to wharf.jobs with routing key `family`, mandatory."""
        m = self.methods.get(family)
        if m is None:
            m = self.methods[family] = pamqp.frame.marshal(pamqp.commands.Basic.Publish(
                exchange="wharf.jobs", routing_key=family, mandatory=True), self.channel)
        return m

    def header(self, body_size: int, job_id: str, job_type: str, priority: int) -> bytes:
        """The content header: the contract's properties (schemas/README.md,
        section 4), priority only when > 0."""
        flags = F_CONTENT_TYPE | F_HEADERS | F_DELIVERY_MODE | F_MESSAGE_ID | F_TYPE
        prio = b""
        if priority > 0:
            flags |= F_PRIORITY
            prio = bytes((priority,))
        payload = b"".join((struct.pack(">HHQH", BASIC_CLASS, 0, body_size, flags), bytes((len(CONTENT_TYPE),)) + CONTENT_TYPE,
                            HEADERS, b"\x02", prio, _shortstr(job_id), _shortstr(job_type)))
        return _frame(FRAME_HEADER, self.channel, payload)

    def message(self, job_id: str, job_type: str, priority: int, body: bytes) -> Tuple[bytes, ...]:
        """Every frame of one message, in order."""
        out: Tuple[bytes, ...] = (self.method(job_type.split(".", 1)[0]),
                                  self.header(len(body), job_id, job_type, priority))
        step = self.max_content
        if len(body) <= step:
            return out + (_frame(FRAME_BODY, self.channel, body),) if body else out
        return out + tuple(_frame(FRAME_BODY, self.channel, body[i:i + step]) for i in range(0, len(body), step))
