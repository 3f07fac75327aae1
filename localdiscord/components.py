"""Message components (buttons in action rows): Discord's limits on what the bot sends, and what
a click sends back to it.

Limits: https://discord.com/developers/docs/components/reference (legacy layout: up to 5 action
rows of up to 5 buttons; a ``custom_id`` of 1-100 characters, unique in the message; a label of
at most 80). A user can click only a button that is on the message and not disabled: a click on
anything else raises ``InvocationError``, as Discord's client offers no such click.
"""

from __future__ import annotations

from typing import Any

from .errors import InvocationError

JSON = dict[str, Any]

ACTION_ROW, BUTTON = 1, 2
LINK_STYLE = 5
ROWS_MAX, BUTTONS_PER_ROW_MAX = 5, 5
CUSTOM_ID_MAX, LABEL_MAX = 100, 80

# Interaction types (discord.InteractionType values).
APPLICATION_COMMAND, MESSAGE_COMPONENT = 2, 3


def component_errors(components: object) -> list[tuple[tuple[str | int, ...], str, str]]:
    """Every rule ``components`` breaks: (path, Discord's error code, message)."""
    errors: list[tuple[tuple[str | int, ...], str, str]] = []
    rows = components if isinstance(components, list) else []
    if len(rows) > ROWS_MAX:
        errors.append((("components",), "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length."))
    seen: set[str] = set()
    for r, row in enumerate(rows):
        if not isinstance(row, dict) or row.get("type") != ACTION_ROW:
            errors.append(
                (("components", r, "type"), "UNION_TYPE_CHOICES", "Value must be an action row.")
            )
            continue
        buttons = row.get("components") or []
        if not 1 <= len(buttons) <= BUTTONS_PER_ROW_MAX:
            errors.append(
                (
                    ("components", r, "components"),
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 5 in length.",
                )
            )
        for b, button in enumerate(buttons):
            path: tuple[str | int, ...] = ("components", r, "components", b)
            if button.get("type") != BUTTON:
                continue  # select menus and the like: not checked here
            custom_id = button.get("custom_id")
            if button.get("style") == LINK_STYLE:
                if not button.get("url"):
                    errors.append(((*path, "url"), "BASE_TYPE_REQUIRED", "This field is required"))
            elif not isinstance(custom_id, str) or not 1 <= len(custom_id) <= CUSTOM_ID_MAX:
                errors.append(
                    (
                        (*path, "custom_id"),
                        "BASE_TYPE_BAD_LENGTH",
                        "Must be between 1 and 100 in length.",
                    )
                )
            elif custom_id in seen:
                errors.append(
                    (
                        (*path, "custom_id"),
                        "COMPONENT_CUSTOM_ID_DUPLICATED",
                        "Component custom id cannot be duplicated",
                    )
                )
            else:
                seen.add(custom_id)
            if len(str(button.get("label") or "")) > LABEL_MAX:
                errors.append(
                    ((*path, "label"), "BASE_TYPE_MAX_LENGTH", "Must be 80 or fewer in length.")
                )
    return errors


def buttons_of(message: JSON) -> list[JSON]:
    """The buttons on a message, row by row."""
    return [
        component
        for row in message.get("components") or []
        for component in row.get("components") or []
        if component.get("type") == BUTTON
    ]


def button_label(button: JSON) -> str:
    """What a person sees on a button: its emoji and label."""
    emoji = (button.get("emoji") or {}).get("name") or ""
    return " ".join(part for part in (emoji, str(button.get("label") or "")) if part)


def find_button(message: JSON, wanted: str) -> JSON:
    """The clickable button whose custom_id, label or emoji is ``wanted``."""
    found = buttons_of(message)
    for button in found:
        emoji = (button.get("emoji") or {}).get("name")
        if wanted in (button.get("custom_id"), button.get("label"), emoji, button_label(button)):
            if button.get("disabled"):
                raise InvocationError(f"the button {button_label(button)!r} is disabled")
            if button.get("style") == LINK_STYLE:
                raise InvocationError("a link button opens its URL; the bot is not told")
            return button
    shown = [button_label(b) or b.get("custom_id") for b in found]
    raise InvocationError(f"message {message['id']} has no button {wanted!r}; it has {shown}")
