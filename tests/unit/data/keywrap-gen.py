#!/usr/bin/env python3
"""Regenerate the keywrap-* known-answer fixtures (run once; the outputs are committed).

Independent of lib/keywrap.c: python3-cryptography does the RSA-OAEP and the RFC 5649
AES key wrap with padding.  OAEP is randomised, so a rerun gives other (equally valid)
ciphertexts; the test only needs keywrap_unwrap to recover keywrap-plain.hex from them.
"""
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
with open("keywrap-rsa.pem", "wb") as f:
    f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))
plain = b"keywrap fixture: 37-byte secret key!!"
assert len(plain) == 37  # not a multiple of 8: exercises the padding
open("keywrap-plain.hex", "w").write(plain.hex() + "\n")
kek256 = bytes(range(32))
kek128 = bytes(range(0x40, 0x50))
for name, md, kek in (("ckm", hashes.SHA1(), kek256), ("256", hashes.SHA256(), kek256),
                      ("384", hashes.SHA384(), kek256), ("ckm-kek128", hashes.SHA1(), kek128)):
    oaep = padding.OAEP(mgf=padding.MGF1(algorithm=md), algorithm=md, label=None)
    ct = key.public_key().encrypt(kek, oaep) + aes_key_wrap_with_padding(kek, plain)
    open("keywrap-%s.hex" % name, "w").write(ct.hex() + "\n")
