"""/v1/keys: create, list and revoke API keys (admin scope). The CLI's `newsdesk keys` calls
the same KeyStore functions."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from service.deps import ServicesDep
from service.errors import Conflict
from service.schemas_keys import KeyCreated, KeyCreateRequest, KeyOut

router = APIRouter(prefix="/v1/keys", tags=["keys"])


@router.post("", response_model=KeyCreated, status_code=201)
async def create_key(req: KeyCreateRequest, services: ServicesDep) -> KeyCreated:
    """A new key. The response is the only time the key is shown; only its hash is stored."""
    new = await run_in_threadpool(services.keys.create, req.name, req.scope)
    return KeyCreated(id=new.id, name=new.name, scope=new.scope, key=new.key)  # type: ignore[arg-type]


@router.get("", response_model=list[KeyOut])
async def list_keys(services: ServicesDep) -> list[KeyOut]:
    return [KeyOut(**k.as_dict()) for k in await run_in_threadpool(services.keys.list)]


@router.delete("/{key_id}", status_code=204, responses={404: {"description": "No such key"},
                                                       409: {"description": "A key revoking itself"},
                                                       422: {"description": "Already revoked"}})
async def revoke_key(key_id: str, request: Request, services: ServicesDep) -> Response:
    """Revoke a key; every worker refuses it from its next request on. A key cannot revoke
    itself over HTTP (no locking yourself out); `newsdesk keys revoke` can revoke any key."""
    if key_id == getattr(request.state, "key_id", None):
        raise Conflict(f"key {key_id} cannot revoke itself; use another admin key or `newsdesk keys revoke`")
    await run_in_threadpool(services.keys.revoke, key_id)
    return Response(status_code=204)
