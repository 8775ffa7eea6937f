"""Small IRVE files of our own for the tests (two stations of a rural syndicate)."""

from __future__ import annotations

import csv
import io
from typing import Any

STATIC_COLUMNS = [
    "nom_amenageur", "siren_amenageur", "contact_amenageur", "nom_operateur",
    "contact_operateur", "telephone_operateur", "nom_enseigne", "id_station_itinerance",
    "id_station_local", "nom_station", "implantation_station", "adresse_station",
    "code_insee_commune", "coordonneesXY", "nbre_pdc", "id_pdc_itinerance", "id_pdc_local",
    "puissance_nominale", "prise_type_ef", "prise_type_2", "prise_type_combo_ccs",
    "prise_type_chademo", "prise_type_autre", "gratuit", "paiement_acte", "paiement_cb",
    "paiement_autre", "tarification", "condition_acces", "reservation", "horaires",
    "accessibilite_pmr", "restriction_gabarit", "station_deux_roues", "raccordement",
    "num_pdl", "date_mise_en_service", "observations", "date_maj", "cable_t2_attache",
]
DYNAMIC_COLUMNS = [
    "id_pdc_itinerance", "etat_pdc", "occupation_pdc", "horodatage", "etat_prise_type_2",
    "etat_prise_type_combo_ccs", "etat_prise_type_chademo", "etat_prise_type_ef",
]

#: the town-hall square: two 22 kW points (Type 2 + E/F)
MAIRIE = {
    "nom_amenageur": "Syndicat d'énergie", "siren_amenageur": "200012345",
    "contact_amenageur": "irve@syndicat.example", "nom_operateur": "Opérateur Rural",
    "contact_operateur": "support@operateur.example", "telephone_operateur": "0474000000",
    "nom_enseigne": "Réseau Bocage", "id_station_itinerance": "FRBCGP01004001",
    "id_station_local": "", "nom_station": "Place de la mairie",
    "implantation_station": "Voirie", "adresse_station": "1 place de la Mairie 01400 Abergement",
    "code_insee_commune": "01004", "coordonneesXY": "[5.3632,45.9555]", "nbre_pdc": "2",
    "id_pdc_local": "", "puissance_nominale": "22", "prise_type_ef": "true",
    "prise_type_2": "true", "prise_type_combo_ccs": "false", "prise_type_chademo": "false",
    "prise_type_autre": "false", "gratuit": "false", "paiement_acte": "true",
    "paiement_cb": "true", "paiement_autre": "false", "tarification": "0,35 € / kWh",
    "condition_acces": "Accès libre", "reservation": "false", "horaires": "24/7",
    "accessibilite_pmr": "Accessible mais non réservé PMR", "restriction_gabarit": "Aucune",
    "station_deux_roues": "false", "raccordement": "Direct", "num_pdl": "",
    "date_mise_en_service": "2023-05-02", "observations": "", "date_maj": "2026-10-01",
    "cable_t2_attache": "false",
}
#: the gym's car park: one free fast charger (CCS + CHAdeMO)
GYMNASE = {
    **MAIRIE, "id_station_itinerance": "FRBCGP01004002", "nom_station": "Gymnase",
    "implantation_station": "Parking public", "coordonneesXY": "[5.3701,45.9512]",
    "adresse_station": "Rue du Stade 01400 Abergement", "nbre_pdc": "1",
    "puissance_nominale": "50", "prise_type_ef": "false", "prise_type_2": "false",
    "prise_type_combo_ccs": "true", "prise_type_chademo": "true", "gratuit": "true",
    "horaires": "Mo-Su 07:00-22:00", "nom_operateur": "",
}


def static_rows() -> list[dict[str, str]]:
    return [{**MAIRIE, "id_pdc_itinerance": "FRBCGE010040011"},
            {**MAIRIE, "id_pdc_itinerance": "FRBCGE010040012"},
            {**GYMNASE, "id_pdc_itinerance": "FRBCGE010040021"}]


def state(pdc: str, etat: str = "en_service", occupation: str = "libre",
          at: str = "2026-11-02T08:00:00+01:00") -> dict[str, str]:
    return {"id_pdc_itinerance": pdc, "etat_pdc": etat, "occupation_pdc": occupation,
            "horodatage": at, "etat_prise_type_2": "fonctionnel",
            "etat_prise_type_combo_ccs": "", "etat_prise_type_chademo": "",
            "etat_prise_type_ef": "fonctionnel"}


def to_csv(columns: list[str], rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def static_csv(rows: list[dict[str, str]] | None = None) -> bytes:
    return to_csv(STATIC_COLUMNS, static_rows() if rows is None else rows)


def dynamic_csv(rows: list[dict[str, str]]) -> bytes:
    return to_csv(DYNAMIC_COLUMNS, rows)
