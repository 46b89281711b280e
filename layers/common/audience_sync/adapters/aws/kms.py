"""Tokens encrypted with the stack's KMS key (TokenKey), bound to their connection by the encryption context."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from audience_sync.adapters.aws import clients
from audience_sync.adapters.aws.errors import translated


class KmsTokenCipher:
    def __init__(self, key_id: Callable[[], str]):
        clients.create_now("kms")  # at the container's init (decision 0026)
        self.key_id = key_id  # asked for when a token is encrypted: a function that only decrypts needs no key id

    @translated("kms.encrypt")
    def encrypt(self, plaintext: bytes, context: Mapping[str, str]) -> bytes:
        key_id = self.key_id()
        result = clients.kms().encrypt(KeyId=key_id, Plaintext=plaintext, EncryptionContext=dict(context))
        return bytes(result["CiphertextBlob"])

    @translated("kms.decrypt")
    def decrypt(self, ciphertext: bytes, context: Mapping[str, str]) -> bytes:
        return bytes(clients.kms().decrypt(CiphertextBlob=ciphertext, EncryptionContext=dict(context))["Plaintext"])
