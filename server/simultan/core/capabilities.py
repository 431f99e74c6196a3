"""Roles map to capabilities as data; handlers check capabilities, never role names."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    PARTICIPANT = "participant"
    PANELIST = "panelist"
    INTERPRETER = "interpreter"
    MODERATOR = "moderator"
    ORGANIZER = "organizer"


class Capability(StrEnum):
    LISTEN = "listen"  # receive the floor and any language channel
    VIEW_AGENDA = "view_agenda"
    RAISE_HAND = "raise_hand"
    PUBLISH_FLOOR = "publish_floor"  # only while holding the floor
    PUBLISH_BOOTH = "publish_booth"  # only into the interpreter's own booth
    BOOTH_MEMBER = "booth_member"  # handover, cough, slow-down, booth chat
    DRIVE_TIMELINE = "drive_timeline"
    GIVE_FLOOR = "give_floor"
    SET_FLOOR_LANGUAGE = "set_floor_language"
    FORCE_HANDOVER = "force_handover"
    BROADCAST = "broadcast"
    RECORD = "record"
    TECH_VIEW = "tech_view"
    SEE_ALL_BOOTH_CHAT = "see_all_booth_chat"
    MANAGE_REGISTRATIONS = "manage_registrations"
    B2B = "b2b"  # a company profile, meeting requests, one's own B2B meetings
    MANAGE_B2B = "manage_b2b"  # the B2B grid, scheduling by hand, export and report
    JOIN_GROUP = "join_group"  # be assigned to a group discussion, speak in it
    MANAGE_ROOMS = "manage_rooms"  # open, arrange and close group discussions
    VISIT_ROOMS = "visit_rooms"  # enter any room to listen or speak


_PARTICIPANT = frozenset(
    {
        Capability.LISTEN,
        Capability.VIEW_AGENDA,
        Capability.RAISE_HAND,
        Capability.B2B,
        Capability.JOIN_GROUP,
    }
)
_PANELIST = _PARTICIPANT | {Capability.PUBLISH_FLOOR}
_INTERPRETER = frozenset(
    {
        Capability.LISTEN,
        Capability.VIEW_AGENDA,
        Capability.PUBLISH_BOOTH,
        Capability.BOOTH_MEMBER,
        Capability.B2B,  # to be booked into B2B meetings and sit in them
    }
)
# Staff visit groups; they are not assigned to one (hence no join_group).
_MODERATOR = (_PANELIST - {Capability.JOIN_GROUP}) | {
    Capability.DRIVE_TIMELINE,
    Capability.GIVE_FLOOR,
    Capability.SET_FLOOR_LANGUAGE,
    Capability.FORCE_HANDOVER,
    Capability.BROADCAST,
    Capability.RECORD,
    Capability.TECH_VIEW,
    Capability.MANAGE_ROOMS,
    Capability.VISIT_ROOMS,
}
_ORGANIZER = _MODERATOR | {
    Capability.SEE_ALL_BOOTH_CHAT,
    Capability.MANAGE_REGISTRATIONS,
    Capability.MANAGE_B2B,
}

ROLE_CAPABILITIES: dict[Role, frozenset[Capability]] = {
    Role.PARTICIPANT: _PARTICIPANT,
    Role.PANELIST: frozenset(_PANELIST),
    Role.INTERPRETER: _INTERPRETER,
    Role.MODERATOR: frozenset(_MODERATOR),
    Role.ORGANIZER: frozenset(_ORGANIZER),
}


def capabilities_of(role: Role) -> frozenset[Capability]:
    return ROLE_CAPABILITIES[role]


def has(role: Role, capability: Capability) -> bool:
    return capability in ROLE_CAPABILITIES[role]
