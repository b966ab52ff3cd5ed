"""The encrypted column type stores ciphertext in PostgreSQL and gives back plaintext."""

import sqlalchemy as sa

from app.crypto import EncryptedText
from app.extensions import db


def test_encrypted_text_column_round_trip_in_postgres(app):
    table = sa.Table("secret_probe", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("value", EncryptedText()))
    with app.app_context():
        with db.engine.begin() as conn:
            table.create(conn)
            try:
                conn.execute(table.insert().values(id=1, value="hunter2-app-password"))
                raw = conn.execute(sa.text("SELECT value FROM secret_probe")).scalar()
                assert raw and "hunter2" not in raw
                assert conn.execute(sa.select(table.c.value)).scalar() == "hunter2-app-password"
            finally:
                table.drop(conn)
