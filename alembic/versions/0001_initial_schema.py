"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-26
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from db.views import create_views, drop_views

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('api_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('key_hash', sa.String(length=128), nullable=False),
    sa.Column('scopes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_key')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_key_key_hash'))
    )
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_key_prefix'), ['prefix'], unique=False)

    op.create_table('benchmark',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('version', sa.String(length=100), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('n_items', sa.Integer(), nullable=True),
    sa.Column('chance', sa.Double(), nullable=True),
    sa.Column('higher_is_better', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('extra', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_benchmark')),
    sa.UniqueConstraint('name', name=op.f('uq_benchmark_name'))
    )
    op.create_table('forecast',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=60), nullable=False),
    sa.Column('benchmark', sa.String(length=300), nullable=True),
    sa.Column('metric', sa.String(length=40), nullable=True),
    sa.Column('query', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('params_hash', sa.String(length=64), nullable=False),
    sa.Column('data_fingerprint', sa.String(length=64), nullable=False),
    sa.Column('point', sa.Double(), nullable=True),
    sa.Column('lower', sa.Double(), nullable=True),
    sa.Column('upper', sa.Double(), nullable=True),
    sa.Column('alpha', sa.Double(), nullable=True),
    sa.Column('fitted_params', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('diagnostics', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('backtest', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forecast'))
    )
    with op.batch_alter_table('forecast', schema=None) as batch_op:
        batch_op.create_index('ix_forecast_cache', ['method', 'params_hash', 'data_fingerprint'], unique=False)

    op.create_table('model_family',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('recipe', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_family')),
    sa.UniqueConstraint('name', name=op.f('uq_model_family_name'))
    )
    op.create_table('schedule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('cron', sa.String(length=120), nullable=True),
    sa.Column('watch_path', sa.Text(), nullable=True),
    sa.Column('job_kind', sa.String(length=40), nullable=False),
    sa.Column('job_payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('enabled', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('last_tick_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_schedule')),
    sa.UniqueConstraint('name', name=op.f('uq_schedule_name'))
    )
    op.create_table('item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('benchmark_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('prompt', sa.Text(), nullable=True),
    sa.Column('choices', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('meta', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.ForeignKeyConstraint(['benchmark_id'], ['benchmark.id'], name=op.f('fk_item_benchmark_id_benchmark'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_item')),
    sa.UniqueConstraint('benchmark_id', 'key', name=op.f('uq_item_benchmark_id_key'))
    )
    op.create_table('job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('progress', sa.Double(), nullable=True),
    sa.Column('progress_detail', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('result', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('lease_owner', sa.String(length=200), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('run_after', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('cancel_requested', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=True),
    sa.Column('dedupe_key', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['schedule_id'], ['schedule.id'], name=op.f('fk_job_schedule_id_schedule'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_job_dedupe_key'))
    )
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.create_index('ix_job_claim', ['status', 'priority', 'run_after'], unique=False)
        batch_op.create_index(batch_op.f('ix_job_schedule_id'), ['schedule_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_job_status'), ['status'], unique=False)

    op.create_table('model',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('family_id', sa.Integer(), nullable=True),
    sa.Column('n_params', sa.Double(), nullable=True),
    sa.Column('n_params_nonembed', sa.Double(), nullable=True),
    sa.Column('n_tokens', sa.Double(), nullable=True),
    sa.Column('flops', sa.Double(), nullable=True),
    sa.Column('release_date', sa.Date(), nullable=True),
    sa.Column('checkpoint_step', sa.Integer(), nullable=True),
    sa.Column('uri', sa.Text(), nullable=True),
    sa.Column('revision', sa.String(length=200), nullable=True),
    sa.Column('extra', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['family_id'], ['model_family.id'], name=op.f('fk_model_family_id_model_family'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model')),
    sa.UniqueConstraint('name', name=op.f('uq_model_name'))
    )
    with op.batch_alter_table('model', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_model_family_id'), ['family_id'], unique=False)

    op.create_table('eval_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('model_id', sa.Integer(), nullable=False),
    sa.Column('benchmark_id', sa.Integer(), nullable=False),
    sa.Column('mode', sa.String(length=40), nullable=False),
    sa.Column('engine', sa.String(length=40), nullable=False),
    sa.Column('engine_version', sa.String(length=80), nullable=True),
    sa.Column('config', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('config_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['benchmark_id'], ['benchmark.id'], name=op.f('fk_eval_run_benchmark_id_benchmark'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['model_id'], ['model.id'], name=op.f('fk_eval_run_model_id_model'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eval_run')),
    sa.UniqueConstraint('model_id', 'benchmark_id', 'config_hash', name=op.f('uq_eval_run_model_id_benchmark_id_config_hash'))
    )
    with op.batch_alter_table('eval_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_eval_run_benchmark_id'), ['benchmark_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_eval_run_model_id'), ['model_id'], unique=False)

    op.create_table('measurement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('model_id', sa.Integer(), nullable=False),
    sa.Column('benchmark_id', sa.Integer(), nullable=False),
    sa.Column('metric', sa.String(length=40), nullable=False),
    sa.Column('value', sa.Double(), nullable=False),
    sa.Column('stderr', sa.Double(), nullable=True),
    sa.Column('source', sa.String(length=200), server_default='', nullable=False),
    sa.Column('checkpoint_step', sa.Integer(), nullable=True),
    sa.Column('n_tokens', sa.Double(), nullable=True),
    sa.Column('extra', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['benchmark_id'], ['benchmark.id'], name=op.f('fk_measurement_benchmark_id_benchmark'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['model_id'], ['model.id'], name=op.f('fk_measurement_model_id_model'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_measurement'))
    )
    with op.batch_alter_table('measurement', schema=None) as batch_op:
        batch_op.create_index('ix_measurement_benchmark_metric', ['benchmark_id', 'metric'], unique=False)
        batch_op.create_index(batch_op.f('ix_measurement_model_id'), ['model_id'], unique=False)
    # A step may be missing (NULL); coalesce so that re-importing the same row collides.
    op.create_index('uq_measurement_identity', 'measurement',
                    ['model_id', 'benchmark_id', 'metric',
                     sa.text('coalesce(checkpoint_step, -1)'), 'source'], unique=True)

    op.create_table('choice_score',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('choice_index', sa.Integer(), nullable=False),
    sa.Column('logprob_sum', sa.Double(), nullable=False),
    sa.Column('n_tokens', sa.Integer(), nullable=True),
    sa.Column('n_bytes', sa.Integer(), nullable=True),
    sa.Column('n_chars', sa.Integer(), nullable=True),
    sa.Column('is_greedy', sa.Boolean(), nullable=True),
    sa.Column('is_correct', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['item.id'], name=op.f('fk_choice_score_item_id_item'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['eval_run.id'], name=op.f('fk_choice_score_run_id_eval_run'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_choice_score')),
    sa.UniqueConstraint('run_id', 'item_id', 'choice_index', name=op.f('uq_choice_score_run_id_item_id_choice_index'))
    )
    with op.batch_alter_table('choice_score', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_choice_score_item_id'), ['item_id'], unique=False)

    op.create_table('item_result',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('n_samples', sa.Integer(), nullable=False),
    sa.Column('n_pass', sa.Integer(), nullable=False),
    sa.Column('stop_reason', sa.String(length=20), nullable=True),
    sa.Column('greedy_correct', sa.Boolean(), nullable=True),
    sa.Column('estimate', sa.Double(), nullable=True),
    sa.Column('estimates', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['item.id'], name=op.f('fk_item_result_item_id_item'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['eval_run.id'], name=op.f('fk_item_result_run_id_eval_run'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_item_result')),
    sa.UniqueConstraint('run_id', 'item_id', name=op.f('uq_item_result_run_id_item_id'))
    )
    with op.batch_alter_table('item_result', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_item_result_item_id'), ['item_id'], unique=False)

    create_views(op.get_bind(), '0001')


def downgrade() -> None:
    drop_views(op.get_bind(), '0001')
    op.drop_index('uq_measurement_identity', table_name='measurement')
    with op.batch_alter_table('item_result', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_item_result_item_id'))

    op.drop_table('item_result')
    with op.batch_alter_table('choice_score', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_choice_score_item_id'))

    op.drop_table('choice_score')
    with op.batch_alter_table('measurement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_measurement_model_id'))
        batch_op.drop_index('ix_measurement_benchmark_metric')

    op.drop_table('measurement')
    with op.batch_alter_table('eval_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_eval_run_model_id'))
        batch_op.drop_index(batch_op.f('ix_eval_run_benchmark_id'))

    op.drop_table('eval_run')
    with op.batch_alter_table('model', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_model_family_id'))

    op.drop_table('model')
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_status'))
        batch_op.drop_index(batch_op.f('ix_job_schedule_id'))
        batch_op.drop_index('ix_job_claim')

    op.drop_table('job')
    op.drop_table('item')
    op.drop_table('schedule')
    op.drop_table('model_family')
    with op.batch_alter_table('forecast', schema=None) as batch_op:
        batch_op.drop_index('ix_forecast_cache')

    op.drop_table('forecast')
    op.drop_table('benchmark')
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_key_prefix'))

    op.drop_table('api_key')
