#!/usr/bin/env python3
"""Writes the bundled sample extract: sample-data/iso/ (UTF-8, YYYY-MM-DD, decimal point, LF)
and sample-data/nl/ (the same rows as a Windows-1252, DD-MM-YYYY, decimal-comma, CRLF export).

    python3 sample-data/make_sample.py

Deterministic (seeded); standard library only. Hand-written records first (edge cases of the
contract, see sample-data/README.md), then ordinary generated ones, then the bad rows.
"""
import csv
import datetime as dt
import io
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
R = random.Random(20261122)
AS_OF = dt.date(2026, 11, 22)  # the date the hand-written cases are built around

FIRST = ["Jan", "Piet", "Kees", "Henk", "Willem", "Gerrit", "Sander", "Daan", "Sem", "Thijs",
         "Maria", "Anna", "Els", "Ingrid", "Anouk", "Sophie", "Lotte", "Fleur", "Sanne", "Iris",
         "Zoë", "Chloë", "René", "José", "Noël", "Mohammed", "Fatima", "Ahmed"]
LAST = [("", "Jansen"), ("de", "Vries"), ("van", "Dijk"), ("", "Bakker"), ("", "Visser"),
        ("", "Smit"), ("", "Meijer"), ("de", "Boer"), ("", "Mulder"), ("de", "Groot"),
        ("", "Bos"), ("", "Vos"), ("", "Peters"), ("", "Hendriks"), ("van", "Leeuwen"),
        ("", "Dekker"), ("", "Brouwer"), ("de", "Wit"), ("", "Dijkstra"), ("", "Smits"),
        ("van der", "Berg"), ("van den", "Heuvel"), ("van 't", "Hof"), ("in 't", "Veld"),
        ("", "Öztürk"), ("", "Müller"), ("", "Gonçalves"), ("", "El Amrani")]
STREETS = ["Hoofdstraat", "Kerkstraat", "Dorpsstraat", "Molenweg", "Stationsweg", "Julianastraat",
           "Beatrixlaan", "Wilhelminastraat", "Oranjestraat", "Burgemeester de Withstraat",
           "Sint Jansstraat", "Van Goghstraat", "Kastanjelaan", "Industrieweg"]
CITIES = {"D001": ["Utrecht", "Nieuwegein", "Houten", "Zeist", "IJsselstein", "De Bilt"],
          "D002": ["Zwolle", "Kampen", "Dalfsen", "Hattem", "Heino", "Genemuiden"]}
DOMAINS = ["gmail.com", "hotmail.com", "outlook.com", "ziggo.nl", "kpnmail.nl", "planet.nl", "xs4all.nl"]
MAKES = [("Volkswagen", ["Golf", "Polo", "ID.3"]), ("Opel", ["Corsa", "Astra"]), ("Peugeot", ["208", "3008"]),
         ("Toyota", ["Yaris", "Aygo X", "Corolla"]), ("Kia", ["Niro", "Picanto"]), ("Škoda", ["Octavia", "Fabia"]),
         ("Renault", ["Clio", "Captur"]), ("Citroën", ["C3", "Berlingo"])]
LETTERS = "BDFGHJKLNPRSTVXZ"

CUST_COLS = ["dealer_id", "customer_id", "registered_on", "source", "initials", "first_name", "infix",
             "last_name", "company_name", "kind", "street", "house_number", "house_number_suffix", "postcode",
             "city", "country", "email", "phone", "mobile", "app_id", "deceased"]
INV_COLS = ["dealer_id", "invoice_id", "customer_id", "invoice_date", "vehicle_id", "department", "amount"]
VEH_COLS = ["dealer_id", "vehicle_id", "customer_id", "license_plate", "vin", "make", "model",
            "first_registration_on", "apk_due_on"]
PREF_COLS = ["dealer_id", "customer_id", "category", "channel", "status", "recorded_at", "origin"]
REQ_COLS = ["dealer_id", "customer_id", "kind", "received_on"]
DNC_COLS = ["phone"]
PF_COLS = ["postcode", "house_number", "house_number_suffix"]
DR_COLS = ["postcode", "house_number", "house_number_suffix", "last_name"]


def d(s):
    return dt.date.fromisoformat(s)


def ago(days):
    return AS_OF - dt.timedelta(days=days)


def mobile():
    rest = R.choice("1234558") + str(R.randint(0, 9999999)).zfill(7)
    return R.choice([f"06-{rest}", f"06{rest}", f"06 {rest[:2]} {rest[2:4]} {rest[4:6]} {rest[6:]}",
                     f"+31 6 {rest}", f"+316{rest}", f"0031 6 {rest}", f"+31 (0)6 {rest}"])


def landline():
    area = R.choice(["030", "038", "010", "020", "0341", "0529", "0572"])
    n = 10 - len(area)
    sub = str(R.randint(2, 9)) + "".join(str(R.randint(0, 9)) for _ in range(n - 1))
    return R.choice([f"{area}-{sub}", f"{area} {sub}", f"({area}) {sub}", f"+31 {area[1:]} {sub}"])


def plate():
    L = lambda k: "".join(R.choice(LETTERS) for _ in range(k))  # noqa: E731
    D = lambda k: "".join(str(R.randint(0, 9)) for _ in range(k))  # noqa: E731
    return R.choice([f"{D(2)}-{L(3)}-{D(1)}", f"{L(2)}-{D(3)}-{L(1)}", f"{D(1)}-{L(3)}-{D(2)}", f"{L(1)}-{D(3)}-{L(2)}"])


class Extract:
    def __init__(self):
        self.t = {k: [] for k in ["customers", "invoices", "vehicles", "preferences", "requests", "do_not_call",
                                  "postfilter", "deceased_register"]}
        self.inv = 50000
        self.veh = 70000

    def customer(self, dealer, cid, reg, **kw):
        first = kw.pop("first", R.choice(FIRST))
        infix, last = kw.pop("name", R.choice(LAST))
        row = {"dealer_id": dealer, "customer_id": str(cid), "registered_on": reg, "source": R.choice(["Dealer"] * 6 + ["Website", "Import", ""]),
               "initials": first[:1] + ("." if first else ""), "first_name": first, "infix": infix, "last_name": last, "company_name": "", "kind": "",
               "street": R.choice(STREETS), "house_number": str(R.randint(1, 180)),
               "house_number_suffix": R.choice([""] * 8 + ["A", "bis"]),
               "postcode": f"{R.randint(1000, 9999)} {R.choice('ABCEGHJKLMNPRTVWXZ')}{R.choice('ABCEGHJKLMNPRTVWXZ')}",
               "city": R.choice(CITIES[dealer]), "country": R.choice([""] * 6 + ["NL", "Nederland"]),
               "email": f"{(first or 'info').lower().replace('ë', 'e').replace('é', 'e')}.{last.lower().replace(' ', '')}{R.randint(1, 99)}@{R.choice(DOMAINS)}",
               "phone": R.choice([landline(), "", ""]), "mobile": R.choice([mobile(), mobile(), ""]),
               "app_id": R.choice([""] * 5 + [f"app-{R.randint(100000, 999999)}"]), "deceased": R.choice([""] * 5 + ["N", "nee", "0"])}
        row.update(kw)
        self.t["customers"].append(row)
        return row

    def invoice(self, dealer, cid, date, **kw):
        self.inv += 1
        row = {"dealer_id": dealer, "invoice_id": f"F{self.inv}", "customer_id": str(cid), "invoice_date": date,
               "vehicle_id": "", "department": R.choice(["Werkplaats", "Werkplaats", "Onderdelen", "Verkoop", "Schade"]),
               "amount": f"{R.randint(20, 2500)}.{R.randint(0, 99):02d}"}
        row.update(kw)
        self.t["invoices"].append(row)
        return row

    def vehicle(self, dealer, cid, **kw):
        self.veh += 1
        make, models = R.choice(MAKES)
        first_reg = ago(R.randint(200, 5000))
        row = {"dealer_id": dealer, "vehicle_id": f"V{self.veh}", "customer_id": str(cid), "license_plate": plate(),
               "vin": "WVWZZZ" + "".join(R.choice("ABCDEFGHJKLMNPRSTUVWXYZ0123456789") for _ in range(11)),
               "make": make, "model": R.choice(models), "first_registration_on": first_reg.isoformat(),
               "apk_due_on": (first_reg + dt.timedelta(days=365 * 4 + R.randint(0, 700))).isoformat()}
        row.update(kw)
        self.t["vehicles"].append(row)
        return row

    def pref(self, dealer, cid, cat, chan, status, at, origin="balie"):
        self.t["preferences"].append({"dealer_id": dealer, "customer_id": str(cid), "category": cat, "channel": chan,
                                      "status": status, "recorded_at": at, "origin": origin})

    def request(self, dealer, cid, kind, on):
        self.t["requests"].append({"dealer_id": dealer, "customer_id": str(cid), "kind": kind, "received_on": on})

    def dnc(self, phone):
        self.t["do_not_call"].append({"phone": phone})

    def postfilter(self, postcode, number, suffix=""):
        self.t["postfilter"].append({"postcode": postcode, "house_number": number, "house_number_suffix": suffix})

    def deceased(self, postcode, number, suffix, last_name):
        self.t["deceased_register"].append({"postcode": postcode, "house_number": number,
                                            "house_number_suffix": suffix, "last_name": last_name})


def build():
    x = Extract()
    D1, D2 = "D001", "D002"
    # ---- hand-written cases (see README.md), dealer D001, ids 1001..
    x.customer(D1, 1001, "2019-03-02", first="Jan", name=("", "Jansen"), email="Jan.Jansen@Ziggo.nl", mobile="06-12345678", phone="030-2345678")
    x.invoice(D1, 1001, "2026-10-01")                      # recent customer: everything in term
    x.customer(D1, 1002, "2015-05-01", first="Piet", name=("de", "Vries"))
    x.invoice(D1, 1002, "2022-08-31")                      # 2022-08-31 + 48 = 2026-08-31: all expired...
    x.pref(D1, 1002, "newsletter", "email", "opt_in", "2023-01-10 09:15:00", "website")  # ...but newsletter e-mail by consent
    x.customer(D1, 1003, "2018-01-01", first="Kees", name=("", "Bakker"))
    x.invoice(D1, 1003, "2025-05-22")                      # + 18 months = 2026-11-22: digital expires on the as-of date
    x.customer(D1, 1004, "2018-01-01", first="Els", name=("", "Visser"))
    x.invoice(D1, 1004, "2025-05-31")                      # + 18 months = 2026-11-30: still in term
    x.customer(D1, 1005, "2017-02-11", first="Henk", name=("", "Smit"))
    x.invoice(D1, 1005, "2025-01-15")
    x.pref(D1, 1005, "*", "*", "opt_out", "2024-03-01 12:00")  # wildcard opt-out: all cells opted_out
    x.customer(D1, 1006, "2017-02-11", first="Anna", name=("", "Meijer"))
    x.invoice(D1, 1006, "2025-01-15")
    x.pref(D1, 1006, "sales_actions", "email", "opt_in", "2025-06-01T10:00:00+02:00")
    x.pref(D1, 1006, "sales_actions", "*", "opt_out", "2025-06-01 08:00:00Z")  # same instant: opt_out wins the tie
    x.customer(D1, 1007, "2016-06-06", first="Willem", name=("de", "Boer"))
    x.invoice(D1, 1007, "2026-02-02")
    x.request(D1, 1007, "erasure", "2026-11-01")           # erasure: every cell, and the retention list
    x.customer(D1, 1008, "2016-06-06", first="Sanne", name=("", "Mulder"))
    x.invoice(D1, 1008, "2026-02-02")
    x.request(D1, 1008, "objection", "2026-03-03")
    x.pref(D1, 1008, "*", "*", "opt_in", "2026-04-01 10:00")  # an opt-in does not beat an objection
    x.customer(D1, 1009, "2016-06-06", first="Iris", name=("de", "Groot"))
    x.invoice(D1, 1009, "2026-02-02")
    x.request(D1, 1009, "RESTRICTION", "2026-05-05")
    x.customer(D1, 1010, "2016-06-06", first="Gerrit", name=("", "Bos"), deceased="ja")
    x.invoice(D1, 1010, "2026-02-02")
    x.customer(D1, 1011, "2010-01-01", first="Maria", name=("", "Vos"))
    x.invoice(D1, 1011, "2019-11-21")                      # + 84 months = 2026-11-21: retention expired
    x.customer(D1, 1012, "2010-01-01", first="Thijs", name=("", "Peters"))
    x.invoice(D1, 1012, "2019-11-21")
    x.pref(D1, 1012, "aftersales_service", "post", "opt_in", "2019-11-21 16:30")  # an opt-in keeps the record
    x.customer(D1, 1013, "2020-01-01", first="Lotte", name=("van", "Dijk"), email="geen", mobile="", phone="",
               app_id="", street="", house_number="")        # no contact point at all: unreachable
    x.invoice(D1, 1013, "2026-09-09")
    x.customer(D1, 1014, "2020-01-01", first="Sem", name=("", "Dekker"), phone="0341-456789", mobile="+31 6 87654321")
    x.invoice(D1, 1014, "2026-09-09")
    x.dnc("+31341456789")
    x.dnc("0687654321")                                    # both numbers on do_not_call
    x.customer(D1, 1015, "2020-01-01", first="Fleur", name=("", "Brouwer"), phone="0341-456780", mobile="")
    x.invoice(D1, 1015, "2026-09-09")
    x.dnc("0031341456780")
    x.pref(D1, 1015, "newsletter", "phone", "opt_in", "2026-01-01 09:00")  # opt-in beats do_not_call
    x.customer(D1, 1016, "2020-01-01", first="Daan", name=("", "Smits"), phone="06 11 22 33 44", mobile="")  # a mobile in the phone field: sms ok
    x.invoice(D1, 1016, "2026-09-09")
    x.customer(D1, 1017, "2020-01-01", first="René", name=("", "Hendriks"), postcode="1234 SS")  # not a postcode: post unreachable
    x.invoice(D1, 1017, "2026-09-09")
    x.customer(D1, 1018, "2020-01-01", first="José", name=("", "Peeters"), postcode="2000", city="Antwerpen", country="BE")  # Belgian address
    x.invoice(D1, 1018, "2026-09-09")
    x.customer(D1, 1019, "2026-10-15", first="Chloë", name=("", "Dijkstra"), source="Website", mobile="06-23456789", phone="038-4567890")  # prospect in term
    x.customer(D1, 1020, "2026-10-15", first="Noël", name=("", "Müller"), source="Website")
    x.pref(D1, 1020, "prospects", "email", "opt_in", "2026-10-15 20:12", "website")  # prospect e-mail by consent
    x.customer(D1, 1021, "2026-08-22", first="Zoë", name=("", "Öztürk"), source="Website")  # + 3 months = 2026-11-22: prospect retention ends
    x.customer(D1, 1022, "2020-01-01", first="Mohammed", name=("", "El Amrani"))
    x.invoice(D1, 1022, "2024-02-29")                      # leap day + 48 months = 2028-02-29
    x.invoice(D1, 1022, "2023-05-05")                      # older invoice: the latest is the anchor
    x.customer(D1, 1023, "2020-01-01", first="", name=("", ""), initials="", company_name="Transportbedrijf Hoekstra B.V.",
               email="INFO@HOEKSTRA-TRANSPORT.NL")
    x.invoice(D1, 1023, "2026-07-07", department="Lease", amount="12480.00")
    x.customer(D1, 1024, "2020-01-01", first="Ingrid", name=("", "Koster"), street="Kerkstraat\n(achterom)")  # a field over two lines
    x.invoice(D1, 1024, "2026-07-07")
    x.customer(D1, 1025, "2020-01-01", first="Ahmed", name=("", "Yilmaz"))
    x.invoice(D1, 1025, "2026-07-07")
    x.pref(D1, 1025, "aftersales_actions", "sms", "opt_out", "2026-03-29 02:30")  # a time in the spring-forward gap
    x.pref(D1, 1025, "aftersales_actions", "sms", "opt_in", "2026-03-29T01:30:00Z")  # same instant: opt_out wins
    for i in range(1001, 1026):
        if R.random() < 0.7 and i not in (1013,):
            x.vehicle(D1, i)

    # ---- ordinary records
    for dealer, start, n in ((D1, 1100, 140), (D2, 2001, 150)):
        for cid in range(start, start + n):
            prospect = R.random() < 0.1
            reg = ago(R.randint(0, 400) if prospect else R.randint(300, 4000))
            c = x.customer(dealer, cid, reg.isoformat())
            if R.random() < 0.08:
                c["email"] = R.choice(["geen", "-", "n.v.t.", c["email"].replace("@", "@@"), c["email"].split("@")[0]])
            if R.random() < 0.05:
                c["mobile"] = R.choice(["0612", "geen", "06-1234567"])
            if prospect:
                continue
            last = ago(R.randint(0, 3300))
            for v in range(R.randint(0, 2)):
                x.vehicle(dealer, cid)
            x.invoice(dealer, cid, last.isoformat())
            for _ in range(R.randint(0, 5)):
                x.invoice(dealer, cid, (last - dt.timedelta(days=R.randint(1, 2000))).isoformat())
            if R.random() < 0.15:
                for _ in range(R.randint(1, 2)):
                    when = last - dt.timedelta(days=R.randint(0, 900))
                    x.pref(dealer, cid, R.choice(["newsletter", "sales_actions", "aftersales_service", "*"]),
                           R.choice(["email", "sms", "post", "*"]), R.choice(["opt_in", "opt_out", "Opt_Out"]),
                           f"{when.isoformat()} {R.randint(8, 20):02d}:{R.randint(0, 59):02d}", R.choice(["balie", "website", "app"]))
            if R.random() < 0.01:
                x.request(dealer, cid, R.choice(["erasure", "objection"]), ago(R.randint(1, 200)).isoformat())
            if c["phone"] and R.random() < 0.05:
                x.dnc(c["phone"])
    for _ in range(12):
        x.dnc(mobile())

    # ---- bad rows, every quarantine reason in every table that can have it
    x.customer(D2, "", "2020-01-01")                                   # missing_value
    x.customer(D2, 2901, "31-12-2020")                                 # bad_value: another date format
    x.customer(D2, 2902, "2021-02-29")                                 # bad_value: no such day
    x.customer(D2, 2903, "2020-01-01", deceased="misschien")           # bad_value: not a boolean
    x.customer(D2, 2904, "2031-01-01")                                 # future_date
    dup = x.customer(D2, 2905, "2020-01-01")
    x.t["customers"].append(dict(dup, email="nieuw@ziggo.nl"))         # duplicate_key (both rows)
    x.invoice(D2, 2905, "2026-01-01")                                  # unknown_customer: 2905 is quarantined
    x.t["customers"].append(dict(x.t["customers"][5]))                 # exact duplicate: counted once
    x.invoice(D2, 2001, "")                                            # missing_value
    x.invoice(D2, 2001, "2026-13-01")                                  # bad_value
    x.invoice(D2, 2001, "2026-01-01", amount="€ 12,50")                # bad_value: amount
    x.invoice(D2, 2001, "2027-01-01")                                  # future_date
    x.invoice(D2, 9999, "2026-01-01")                                  # unknown_customer
    inv = x.invoice(D2, 2002, "2026-01-02")
    x.t["invoices"].append(dict(inv, amount="0.01"))                   # duplicate_key
    x.t["invoices"].append(dict(x.t["invoices"][3]))                   # exact duplicate
    x.vehicle(D2, 9999)                                                # unknown_customer
    x.vehicle(D2, 2003, apk_due_on="volgend jaar")                     # bad_value
    x.vehicle(D2, 2003, vehicle_id="")                                 # missing_value
    veh = x.vehicle(D2, 2004)
    x.t["vehicles"].append(dict(veh, license_plate="99-XX-99"))        # duplicate_key
    x.vehicle(D2, "")                                                  # valid: a vehicle without a known owner
    x.pref(D2, 2001, "marketing", "email", "opt_in", "2026-01-01 10:00")   # bad_value: category
    x.pref(D2, 2001, "newsletter", "fax", "opt_in", "2026-01-01 10:00")    # bad_value: channel
    x.pref(D2, 2001, "newsletter", "email", "ja", "2026-01-01 10:00")      # bad_value: status
    x.pref(D2, 2001, "newsletter", "email", "opt_in", "gisteren")          # bad_value: timestamp
    x.pref(D2, 2001, "newsletter", "email", "", "2026-01-01 10:00")        # missing_value
    x.pref(D2, 2001, "newsletter", "email", "opt_in", "2026-11-23 00:30")  # future_date (Amsterdam time)
    x.pref(D2, 9999, "newsletter", "email", "opt_in", "2026-01-01 10:00")  # unknown_customer
    x.request(D2, 2001, "verwijderen", "2026-01-01")                   # bad_value
    x.request(D2, 2001, "erasure", "2026-12-24")                       # future_date
    x.request(D2, 9999, "erasure", "2026-01-01")                       # unknown_customer
    x.request(D2, 2001, "objection", "")                               # missing_value
    x.dnc("geen")                                                      # bad_value: not a number
    x.dnc("06-1234")                                                   # bad_value: too short
    x.dnc("")                                                          # missing_value
    x.dnc(x.t["do_not_call"][0]["phone"])                              # exact duplicate

    # ---- the law (see README.md): recipients, postfilter, the deceased register. Added last,
    # with their own random stream, so that the rows above keep their lines.
    globals()["R"] = random.Random(20261203)
    home = dict(street="Oudegracht", house_number="12", house_number_suffix="bis", postcode="3511 AB", city="Utrecht")
    x.customer(D1, 1026, "2020-01-01", first="Bas", name=("de", "Wit"), company_name="Klusbedrijf De Wit",
               kind="Sole_Trader", phone="030-2233445")   # a sole trader is a natural person: phone by consent only
    x.invoice(D1, 1026, "2026-06-01")
    x.customer(D1, 1027, "2020-01-01", first="", name=("", ""), initials="", kind="organisation",
               phone="030-2233446")                       # an organisation (kind, no company name): phone by term
    x.invoice(D1, 1027, "2024-01-10")
    x.customer(D1, 1028, "2020-01-01", first="Kees", name=("", "Vos"), company_name="Vos Advies", kind="person",
               phone="030-2233447")                       # kind person beats company_name
    x.invoice(D1, 1028, "2026-06-01")
    x.pref(D1, 1028, "newsletter", "phone", "opt_in", "2026-08-01 10:00")  # an opt-in lifts consent-only
    x.customer(D1, 1029, "2026-10-01", first="Anouk", name=("", "Bakker"), **home)  # prospect on postfilter
    x.postfilter("3511ab", "12", "BIS")                    # spacing and case as the register writes them
    x.customer(D1, 1030, "2026-10-01", first="", name=("", ""), initials="", company_name="Bakker Logistiek B.V.",
               **dict(home, house_number="14", house_number_suffix=""))  # an organisation on postfilter: post by term
    x.postfilter("3511 AB", "14")
    x.customer(D1, 1031, "2026-10-01", first="Sophie", name=("", "Bakker"), **dict(home, house_number="16", house_number_suffix=""))
    x.postfilter("3511 ab", "16")
    x.pref(D1, 1031, "prospects", "post", "opt_in", "2026-10-02 12:00", "website")  # an opt-in beats postfilter
    x.customer(D1, 1032, "2020-01-01", first="Daan", name=("", "Bakker"), **dict(home, house_number="18", house_number_suffix=""))
    x.invoice(D1, 1032, "2026-06-01")                      # a customer on postfilter: post by term
    x.postfilter("3511AB", "18")
    x.customer(D1, 1033, "2020-01-01", first="Henk", name=("van der", "Berg"), **dict(home, house_number="20", house_number_suffix="a"))
    x.invoice(D1, 1033, "2026-06-01")
    x.deceased("3511ab", "20", "A", " BERG ")              # address and last name match (not the infix): deceased
    x.customer(D1, 1034, "2020-01-01", first="Iris", name=("", "Smit"), **dict(home, house_number="22", house_number_suffix=""))
    x.invoice(D1, 1034, "2026-06-01")
    x.deceased("3511 AB", "22", "", "Jansen")              # same address, another last name: alive
    x.customer(D1, 1035, "2020-01-01", first="Els", name=("", "Mulder"), **dict(home, house_number="24", house_number_suffix=""))
    x.invoice(D1, 1035, "2026-06-01")
    x.deceased("3511 AB", "24", "A", "Mulder")             # another suffix (an empty one matches only empty): alive
    x.customer(D2, 2906, "2020-01-01", kind="bedrijf")      # bad_value: an unknown kind
    x.postfilter("3511 AB", "")                             # missing_value
    x.postfilter("3511 AB", "14")                           # exact duplicate
    x.deceased("3511 AB", "30", "", "")                     # missing_value
    return x


def write_csv(path, cols, rows, nl):
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n" if nl else "\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(cols)
    for r in rows:
        w.writerow([r[c] for c in cols])
    data = buf.getvalue()
    with open(path, "wb") as fh:
        fh.write(data.encode("cp1252" if nl else "utf-8"))


def to_nl(table, row):
    """The same row as a Dutch Windows export writes it: DD-MM-YYYY dates, decimal comma."""
    r = dict(row)
    for k, v in r.items():
        if k in ("registered_on", "invoice_date", "first_registration_on", "apk_due_on", "received_on") and len(v) == 10:
            try:
                r[k] = dt.date.fromisoformat(v).strftime("%d-%m-%Y")
            except ValueError:
                if v[4] == "-":  # an impossible ISO date stays impossible in the other format
                    r[k] = f"{v[8:10]}-{v[5:7]}-{v[0:4]}"
                else:  # a date in the other format stays in the other format: ISO here
                    r[k] = f"{v[6:10]}-{v[3:5]}-{v[0:2]}"
        elif k == "amount" and v and v[0].isdigit():
            r[k] = v.replace(".", ",")
        elif k == "recorded_at" and len(v) >= 10 and v[4] == "-" and v[10:11] == " ":
            r[k] = dt.date.fromisoformat(v[:10]).strftime("%d-%m-%Y") + v[10:]
    return r


def main():
    x = build()
    cols = {"customers": CUST_COLS, "invoices": INV_COLS, "vehicles": VEH_COLS, "preferences": PREF_COLS,
            "requests": REQ_COLS, "do_not_call": DNC_COLS, "postfilter": PF_COLS, "deceased_register": DR_COLS}
    for variant in ("iso", "nl"):
        out = os.path.join(HERE, variant)
        os.makedirs(out, exist_ok=True)
        for t, rows in x.t.items():
            if variant == "nl":
                rows = [to_nl(t, r) for r in rows]
            write_csv(os.path.join(out, f"{t}.csv"), cols[t], rows, variant == "nl")
    print({t: len(r) for t, r in x.t.items()})


if __name__ == "__main__":
    main()
