"""After-sales API shapes: cases (list, detail with timeline), action inputs, ingest.

The ingest shapes document the request only: payloads are validated by
``aftersales.ingest`` (the one set of rules for every way a request arrives), and each
payload's errors come back in its own result.
"""

from rest_framework import serializers

from aftersales.choices import CaseKind, Outcome
from aftersales.models import Case, CaseEvent, CaseItem
from oms.core.api.fields import AmountField, IdField
from orders.api.serializers import ErrorBody

MAX_BATCH = 200
MAX_INGEST = 500


def _amount(**kwargs) -> serializers.DecimalField:
    return AmountField(**kwargs)


# ``return`` is a Python keyword: these two are built with type().
ProposalOutput = type(
    "ProposalOutput",
    (serializers.Serializer,),
    {
        "amount": serializers.CharField(
            required=False, help_text="The refund the seller offers"
        ),
        "return": serializers.BooleanField(
            required=False, help_text="Whether the goods come back"
        ),
        "note": serializers.CharField(required=False),
    },
)
ProposalInput = type(
    "ProposalInput",
    (serializers.Serializer,),
    {
        "amount": _amount(
            required=False,
            allow_null=True,
            min_value=0,
            help_text="At most the amount the buyer asked for",
        ),
        "return": serializers.BooleanField(
            required=False, help_text="Whether the goods come back"
        ),
        "note": serializers.CharField(
            required=False, allow_blank=True, max_length=1000
        ),
    },
)


class EvidenceFile(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    url = serializers.CharField(max_length=500, help_text="An http(s) URL")


class CaseItemOutput(serializers.ModelSerializer):
    item = serializers.IntegerField(source="order_item_id", help_text="The order line")
    line_id = serializers.CharField(source="order_item.line_id")
    sku = serializers.CharField(source="order_item.sku")
    title = serializers.CharField(source="order_item.title")

    class Meta:
        model = CaseItem
        fields = ["id", "item", "line_id", "sku", "title", "quantity", "amount"]


class CaseListOutput(serializers.ModelSerializer):
    order = serializers.IntegerField(source="order_id")
    platform_order_id = serializers.CharField()
    shop = serializers.IntegerField(source="shop_id")
    status = serializers.CharField(
        source="native_status", help_text="The platform's own code"
    )
    status_label = serializers.SerializerMethodField()
    # A plain string in the schema: "outcome" is also bulk upsert's enum.
    outcome = serializers.CharField(
        help_text="How a closed case ended ('' while open): "
        + ", ".join(Outcome.values)
    )
    evidence = serializers.ListField(child=serializers.JSONField())
    proposal = ProposalOutput()
    seller_evidence = EvidenceFile(many=True)
    items = CaseItemOutput(many=True)
    allowed_actions = serializers.SerializerMethodField(
        help_text="POST /api/v1/cases/{id}/{action}/ for each"
    )

    class Meta:
        model = Case
        fields = [
            "id", "order", "platform_order_id", "shop", "platform", "kind",
            "platform_case_id", "status", "status_label", "state", "task", "outcome",
            "reason", "description", "evidence", "has_return", "currency", "amount",
            "refunded_amount", "seller_reason", "proposal", "seller_evidence",
            "return_carrier", "return_tracking_number", "due_at", "due_action",
            "due_source", "due_extended", "opened_at", "status_changed_at",
            "resolved_at", "updated_at", "version", "items", "allowed_actions",
        ]  # fmt: skip

    def get_status_label(self, case: Case) -> str:
        from aftersales.services import spec_of

        return spec_of(case).status(case.native_status).label

    def get_allowed_actions(self, case: Case) -> list[str]:
        from aftersales.services import actions_for

        return actions_for(case, self.context.get("actor_kind", "api_client"))


class CaseEventOutput(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = CaseEvent
        fields = [
            "id",
            "created_at",
            "action",
            "from_status",
            "to_status",
            "actor",
            "reason",
            "data",
        ]

    def get_actor(self, event: CaseEvent) -> dict[str, str]:
        return {"kind": event.actor_kind, "label": event.actor_label}


class CaseDetailOutput(CaseListOutput):
    events = CaseEventOutput(many=True, help_text="The case's timeline, oldest first")

    class Meta(CaseListOutput.Meta):
        fields = [*CaseListOutput.Meta.fields, "events"]


class CaseActionInput(serializers.Serializer):
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=500,
        help_text="Required to reject or refuse: the platform shows it to the buyer",
    )
    proposal = ProposalInput(
        required=False, help_text="A counter-offer (disputes, refusals)"
    )
    evidence = EvidenceFile(many=True, required=False, max_length=10)
    expected_version = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="Refuse (412) if the case changed since this version",
    )


class CaseBatchInput(serializers.Serializer):
    ids = serializers.ListField(
        child=IdField(),
        min_length=1,
        max_length=MAX_BATCH,
        help_text="Case ids",
    )
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)


class UnifiedCaseItemInput(serializers.Serializer):
    item = IdField(help_text="The order line's id")
    quantity = serializers.IntegerField(min_value=1, default=1)


class UnifiedCaseInput(serializers.Serializer):
    """The unified shape. A native object (TikTok Shop cancellation or return, Taobao
    refund, AliExpress issue) is accepted as the platform sends it, with ``shop``."""

    order_id = serializers.IntegerField(
        required=False, min_value=1, help_text="The OMS order id, or:"
    )
    shop = serializers.IntegerField(required=False, min_value=1)
    platform_order_id = serializers.CharField(
        required=False, max_length=64, help_text="With shop"
    )
    kind = serializers.ChoiceField(choices=CaseKind.choices)
    platform_case_id = serializers.CharField(
        max_length=64,
        help_text="The platform's id of the request (required): the same id again "
        "updates the case instead of opening a second one",
    )
    status = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=60,
        help_text="The platform's own code; empty: where the platform opens such cases",
    )
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    amount = _amount(required=False)
    items = UnifiedCaseItemInput(
        many=True, required=False, help_text="Without items or line_ids: every line"
    )
    line_ids = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        help_text="The platform's line ids (one unit each)",
    )
    has_return = serializers.BooleanField(required=False)
    due_at = serializers.DateTimeField(
        required=False, help_text="The platform's deadline for the seller"
    )
    opened_at = serializers.DateTimeField(required=False)
    updated_at = serializers.DateTimeField(
        required=False, help_text="The platform's time of this status"
    )
    return_tracking_number = serializers.CharField(
        required=False, allow_blank=True, max_length=64
    )
    return_carrier = serializers.CharField(
        required=False, allow_blank=True, max_length=60
    )


class CaseIngestInput(serializers.Serializer):
    cases = UnifiedCaseInput(many=True, min_length=1, max_length=MAX_INGEST)


class CaseIngestArbitration(serializers.Serializer):
    id = serializers.IntegerField()
    outcome = serializers.CharField()
    status = serializers.CharField()


class CaseIngestResult(serializers.Serializer):
    index = serializers.IntegerField(help_text="The payload's position in the request")
    ok = serializers.BooleanField()
    id = serializers.IntegerField(required=False, help_text="The case id, when ok")
    outcome = serializers.CharField(
        required=False, help_text="When ok: created, updated or unchanged"
    )
    status = serializers.CharField(required=False, help_text="The case's status after")
    note = serializers.CharField(
        required=False, help_text="Why a known case did not move"
    )
    arbitration = CaseIngestArbitration(
        required=False,
        help_text="A TikTok Shop return with arbitration_status: its dispute case",
    )
    error = ErrorBody(required=False, help_text="When not ok")


class CaseIngestOutput(serializers.Serializer):
    results = CaseIngestResult(many=True)
    ok = serializers.IntegerField()
    failed = serializers.IntegerField()
