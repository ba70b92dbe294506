"""FastAPI dependencies: the long-lived objects built in the lifespan, as Annotated aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.config import Settings
from service.runtime import Services


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.services.settings
    return settings


ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
