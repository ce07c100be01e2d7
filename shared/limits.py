"""The limits of the services alertloop relies on, each with its source. Import them from here.

A limit copied into a module as a bare number drifts from the service (and from the other
copies); code that depends on one names it here, and docs/contracts.md lists them.
"""

from __future__ import annotations

# ---- Pub/Sub: https://cloud.google.com/pubsub/quotas#resource_limits -------------------------
# "Message size (the data field): 10 MB" (10,000,000 bytes, decimal).
PUBSUB_MESSAGE_BYTES = 10_000_000
# "Publish request: 10 MB (total size)" and "1,000 messages" per request.
PUBSUB_PUBLISH_REQUEST_BYTES = 10_000_000
PUBSUB_PUBLISH_REQUEST_MESSAGES = 1_000
# Attributes: "100 attributes per message", key 256 bytes, value 1024 bytes.
PUBSUB_ATTRIBUTES = 100
PUBSUB_ATTRIBUTE_KEY_BYTES = 256
PUBSUB_ATTRIBUTE_VALUE_BYTES = 1_024
# Ordering key: 1 KB.
PUBSUB_ORDERING_KEY_BYTES = 1_024

# ---- Cloud Run: https://cloud.google.com/run/quotas#cloud_run_limits ----------------------
# "Maximum HTTP/1 request size: 32 MiB" (a larger request is refused with 413 before the code).
CLOUD_RUN_REQUEST_BYTES = 32 * 1024 * 1024

# ---- Slack ------------------------------------------------------------------------------
# https://api.slack.com/interactivity/handling#acknowledgment_response: "respond to the request
# with an HTTP 200 OK within 3 seconds" or the user sees an error.
SLACK_ACK_SECONDS = 3.0
# https://api.slack.com/reference/block-kit/blocks: section text max 3,000 characters, header
# text max 150, a section field 2,000; https://api.slack.com/reference/block-kit/block-elements
# #button: url max 3,000.
SLACK_SECTION_TEXT = 3_000
SLACK_HEADER_TEXT = 150
SLACK_SECTION_FIELD_TEXT = 2_000
SLACK_BUTTON_URL = 3_000
# https://api.slack.com/reference/block-kit/blocks: "up to 50 blocks in each message".
SLACK_BLOCKS_PER_MESSAGE = 50
# https://api.slack.com/methods/chat.postMessage#truncating: text is truncated past 40,000
# characters ("we recommend ... no more than 4,000").
SLACK_MESSAGE_TEXT = 40_000

# ---- Firestore: https://firebase.google.com/docs/firestore/quotas#collections_documents_and_fields
# "Maximum size for a document: 1 MiB (1,048,576 bytes)", computed as in
# https://firebase.google.com/docs/firestore/storage-size.
FIRESTORE_DOCUMENT_BYTES = 1_048_576
# "Maximum size of a field name: 1,500 bytes"; "Maximum size of a field path: 1,500 bytes".
FIRESTORE_FIELD_NAME_BYTES = 1_500
# "Maximum depth of fields in a map or array: 20".
FIRESTORE_MAX_DEPTH = 20
# "Maximum number of writes that can be passed to a Commit operation or performed in a
# transaction: 500".
FIRESTORE_WRITES_PER_COMMIT = 500
