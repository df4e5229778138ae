-- Several nodes on one database: a client token is claimed (pending)
-- before its request runs and completed with the answer, so that two nodes
-- racing with one token run the request once.
ALTER TABLE l4v_client_tokens ADD COLUMN pending BOOLEAN NOT NULL DEFAULT FALSE;
